-module(close).
-export([f/1]).
f(X) -> X * X + 2 * X.
