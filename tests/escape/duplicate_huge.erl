%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> length(lists:duplicate(1 bsl 60, x)).
