-module(halt).
-export([f/1]).
f(_X) -> erlang:halt(1).
