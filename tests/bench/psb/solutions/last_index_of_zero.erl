%% last-index-of-zero: the index (from 0) of the last zero.
-module(last_index_of_zero).
-export([last_index_of_zero/1]).

last_index_of_zero(V) -> length(V) - length(lists:takewhile(fun(X) -> X =/= 0 end, lists:reverse(V))) - 1.
