%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> byte_size(iolist_to_binary(d(<<"x">>, 45))).
d(B, 0) -> B;
d(B, N) -> d([B, B], N - 1).
