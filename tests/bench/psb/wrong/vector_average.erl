%% Wrong on purpose: integer division of the rounded sum.
-module(vector_average).
-export([vector_average/1]).

vector_average(V) -> round(lists:sum(V)) div length(V).
