%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> N = -100000000, 1 bsr N.
