%% scrabble-score: the Scrabble score of a text, letters of either case.
-module(scrabble_score).
-export([scrabble_score/1]).

scrabble_score(S) -> lists:sum([value(lower(C)) || C <- S]).

lower(C) when C >= $A, C =< $Z -> C + 32;
lower(C) -> C.

value(C) ->
    case lists:keyfind(C, 1, [{L, V} || {Ls, V} <- table(), L <- Ls]) of
        {_, V} -> V;
        false -> 0
    end.

table() ->
    [{"aeioulnstr", 1}, {"dg", 2}, {"bcmp", 3}, {"fhvwy", 4}, {"k", 5}, {"jx", 8}, {"qz", 10}].
