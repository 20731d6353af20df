-module(loop).
-export([f/1]).
f(X) -> g(X).
g(X) -> g(X + 1).
