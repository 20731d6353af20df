%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> d(<<"x">>, 45).
d(B, 0) -> byte_size(B);
d(B, N) -> d(<<B/binary, B/binary>>, N - 1).
