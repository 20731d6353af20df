-module(msort).
-export([sort/1]).

%% Merge sort over a list of integers.
sort([]) -> [];
sort([X]) -> [X];
sort(L) ->
    {A, B} = lists:split(length(L) div 2, L),
    merge(sort(A), sort(B)).

merge([], B) -> B;
merge(A, []) -> A;
merge([X | A], [Y | _] = B) when X =< Y -> [X | merge(A, B)];
merge(A, [Y | B]) -> [Y | merge(A, B)].
