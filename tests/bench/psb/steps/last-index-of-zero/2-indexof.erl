-module(genome).
-export([last_index_of_zero/1]).

%% indexof(0, V): right on every list with one zero
last_index_of_zero(V) -> length(lists:takewhile(fun(V1) -> not (V1 == 0) end, V)).
