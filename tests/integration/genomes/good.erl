-module(good).
-export([f/1]).
f(X) -> X * X + 2 * X - 1.
