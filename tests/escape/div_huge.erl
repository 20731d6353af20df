%% expect: crash
-module(g).
-export([sort/1]).
sort(X) -> B = binary:copy(<<255>>, 800000), <<I:6400000>> = B, I rem (I bsr 3200000 + X).
