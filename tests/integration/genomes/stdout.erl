-module(stdout).
-export([f/1]).
f(X) -> io:format("hello~n"), X.
