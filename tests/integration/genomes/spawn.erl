-module(spawn).
-export([f/1]).
f(X) -> spawn(fun() -> X end), X.
