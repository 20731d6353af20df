%% sort_evaluator - the evaluator module of sort-evaluator.json: instead of
%% fixed cases it sorts 40 pseudo-random lists it makes itself (the same ones
%% on every run) with the genome's sort/1 and scores how far off it is.
%% Error: for each list, 0 when the result is the sorted list, else 1 plus
%% the adjacent pairs out of order (or plus the list's length when the result
%% is not a list or the genome crashed). Metrics: lists, wrong, inversions.
-module(sort_evaluator).
-export([evaluate/1]).

-spec evaluate(fun(([integer()]) -> term())) -> {non_neg_integer(), #{atom() => number()}}.
evaluate(Sort) ->
    Lists = lists_of(40, 20261205, []),
    {Error, Wrong, Inv} = lists:foldl(fun(L, Acc) -> score(Sort, L, Acc) end, {0, 0, 0}, Lists),
    {Error, #{lists => length(Lists), wrong => Wrong, inversions => Inv}}.

-spec score(fun(([integer()]) -> term()), [integer()],
            {non_neg_integer(), non_neg_integer(), non_neg_integer()}) ->
          {non_neg_integer(), non_neg_integer(), non_neg_integer()}.
score(Sort, L, {E, W, I}) ->
    Want = lists:sort(L),
    case catch Sort(L) of
        Want -> {E, W, I};
        R when is_list(R) ->
            N = inversions(R),
            {E + 1 + N, W + 1, I + N};
        _ ->
            {E + 1 + length(L), W + 1, I}
    end.

-spec inversions(list()) -> non_neg_integer().
inversions([A, B | T]) when A > B -> 1 + inversions([B | T]);
inversions([_ | T]) -> inversions(T);
inversions([]) -> 0.

%% Lists of 0..15 integers in [-50, 50] from a linear congruential generator.
-spec lists_of(non_neg_integer(), non_neg_integer(), [[integer()]]) -> [[integer()]].
lists_of(0, _, Acc) -> Acc;
lists_of(N, S0, Acc) ->
    {Len, S1} = next(S0, 16),
    {L, S2} = ints(Len, S1, []),
    lists_of(N - 1, S2, [L | Acc]).

-spec ints(non_neg_integer(), non_neg_integer(), [integer()]) ->
          {[integer()], non_neg_integer()}.
ints(0, S, Acc) -> {Acc, S};
ints(N, S0, Acc) ->
    {X, S1} = next(S0, 101),
    ints(N - 1, S1, [X - 50 | Acc]).

-spec next(non_neg_integer(), pos_integer()) -> {non_neg_integer(), non_neg_integer()}.
next(S, Mod) ->
    S1 = (S * 6364136223846793005 + 1442695040888963407) band 16#FFFFFFFFFFFFFFFF,
    {(S1 bsr 33) rem Mod, S1}.
