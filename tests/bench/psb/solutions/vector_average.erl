%% vector-average: the mean of a list of floats.
-module(vector_average).
-export([vector_average/1]).

vector_average(V) -> lists:sum(V) / length(V).
