%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> length(string:copies("ab", 1 bsl 40)).
