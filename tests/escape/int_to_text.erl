%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> B = binary:copy(<<"9">>, 1000000), binary_to_integer(B).
