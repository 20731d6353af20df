%% vectors-summed: the element-wise sum of two lists.
-module(vectors_summed).
-export([vectors_summed/2]).

vectors_summed(A, B) -> lists:zipwith(fun(X, Y) -> X + Y end, A, B).
