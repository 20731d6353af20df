%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> tuple_size(erlang:make_tuple(1 bsl 40, 0)).
