-module(deep).
-export([f/1]).
f(X) -> 1 + f(X + 1).
