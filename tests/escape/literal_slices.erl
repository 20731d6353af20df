%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> B = binary:copy(<<"x">>, 8000000), length([<<B:8000000/binary, 1>> || _ <- lists:seq(1, 100)]).
