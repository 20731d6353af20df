%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> L = mk(1000000, []), length([unicode:characters_to_nfc_binary(L) || _ <- lists:seq(1, 1000)]).
mk(0, A) -> A;
mk(N, A) -> mk(N - 1, [$a | A]).
