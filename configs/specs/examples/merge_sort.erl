%% A merge sort: scores every case of sort.json and the evaluator of
%% sort-evaluator.json.
-module(genome).
-export([sort/1]).

sort([]) -> [];
sort([X]) -> [X];
sort(L) ->
    {A, B} = split(L, [], []),
    merge(sort(A), sort(B)).

split([], A, B) -> {A, B};
split([X | T], A, B) -> split(T, B, [X | A]).

merge([], B) -> B;
merge(A, []) -> A;
merge([X | A], [Y | _] = B) when X =< Y -> [X | merge(A, B)];
merge(A, [Y | B]) -> [Y | merge(A, B)].
