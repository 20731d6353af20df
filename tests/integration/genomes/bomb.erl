-module(bomb).
-export([f/1]).
f(X) -> length(lists:seq(1, 100000000)) + X.
