%% expect: unsafe
-module(g).
-export([sort/1]).
sort(X) -> M = os, M:cmd(X).
