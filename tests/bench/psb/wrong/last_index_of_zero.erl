%% Wrong on purpose: the first zero, not the last.
-module(last_index_of_zero).
-export([last_index_of_zero/1]).

last_index_of_zero(V) -> length(lists:takewhile(fun(X) -> X =/= 0 end, V)).
