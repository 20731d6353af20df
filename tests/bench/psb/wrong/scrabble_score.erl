%% Wrong on purpose: upper-case letters score nothing.
-module(scrabble_score).
-export([scrabble_score/1]).

scrabble_score(S) ->
    lists:sum([V || C <- S, {Ls, V} <- [{"aeioulnstr", 1}, {"dg", 2}, {"bcmp", 3},
                                         {"fhvwy", 4}, {"k", 5}, {"jx", 8}, {"qz", 10}],
                    lists:member(C, Ls)]).
