-module(crash).
-export([f/1]).
f(X) -> X div 0.
