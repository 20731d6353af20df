-module(genome).
-export([last_index_of_zero/1]).

%% indexof(0, lists:reverse(V)): the zeros after the last one; right almost nowhere
last_index_of_zero(V) -> length(lists:takewhile(fun(V1) -> not (V1 == 0) end, lists:reverse(V))).
