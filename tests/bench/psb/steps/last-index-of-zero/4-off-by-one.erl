-module(genome).
-export([last_index_of_zero/1]).

%% off by one on every case
last_index_of_zero(V) ->
    length(V) - length(lists:takewhile(fun(V1) -> not (V1 == 0) end, lists:reverse(V))).
