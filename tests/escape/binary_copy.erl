%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> byte_size(binary:copy(<<"ab">>, 1 bsl 40)).
