%% expect: crash
-module(g).
-export([sort/1]).
sort(X) -> sq(X + 2, 40).
sq(X, 0) -> X;
sq(X, N) -> sq(X * X, N - 1).
