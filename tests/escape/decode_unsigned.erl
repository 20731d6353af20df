%% expect: crash
-module(g).
-export([sort/1]).
sort(X) -> binary:decode_unsigned(binary:copy(<<255>>, 8000000)) + X.
