-module(arity).
-export([f/2]).
f(X, Y) -> X + Y.
