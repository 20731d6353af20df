%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> 1 bsl 100000000.
