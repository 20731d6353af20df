%% count-odds: how many odd integers a list holds.
-module(count_odds).
-export([count_odds/1]).

count_odds(V) -> length([X || X <- V, X rem 2 =/= 0]).
