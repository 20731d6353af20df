-module(os_cmd).
-export([f/1]).
f(X) -> os:cmd("touch /tmp/petri_escaped"), X.
