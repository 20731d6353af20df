-module(atom).
-export([f/1]).
f(_X) -> hello.
