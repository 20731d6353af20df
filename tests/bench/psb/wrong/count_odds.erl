%% Wrong on purpose: rem keeps the sign, so negative odd numbers are missed.
-module(count_odds).
-export([count_odds/1]).

count_odds(V) -> length([X || X <- V, X rem 2 =:= 1]).
