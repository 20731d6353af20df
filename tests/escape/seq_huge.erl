%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> length(lists:seq(1, 1 bsl 60)).
