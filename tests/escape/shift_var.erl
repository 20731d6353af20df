%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> N = 1 bsl 40, 1 bsl N.
