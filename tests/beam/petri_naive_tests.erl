%% petri_naive_tests - the baseline loop evaluates every genome and cleans up.
-module(petri_naive_tests).
-include_lib("eunit/include/eunit.hrl").

run_test() ->
    Src = <<"-module(genome).\n-export([f/1]).\nf(X) -> X*X+2*X-1.\n">>,
    Cases = [{[X], X * X + 2 * X - 1} || X <- lists:seq(-10, 10)],
    {Count, Micros} = petri_naive:run(lists:duplicate(5, Src), Cases),
    ?assertEqual(5, Count),
    ?assert(is_integer(Micros) andalso Micros >= 0),
    ?assertEqual(false, erlang:module_loaded(petri_naive_0)),
    ?assertEqual(false, erlang:module_loaded(petri_naive_4)).

run_terms_test() ->
    Sort = <<"-module(genome).\n-export([sort/1]).\nsort(L) -> lists:sort(L).\n">>,
    Wrong = <<"-module(genome).\n-export([sort/1]).\nsort(L) -> L.\n">>,
    Cases = [{[[3, 1, 2]], [1, 2, 3]}, {[[1, 2]], [1, 2]}, {[[]], []}],
    {Count, Micros, Times, Passed} = petri_naive:run_terms([Sort, Wrong, Sort], Cases, sort),
    ?assertEqual(3, Count),
    ?assert(is_integer(Micros) andalso Micros >= 0),
    ?assertEqual(3, length(Times)),
    ?assertEqual(3 + 2 + 3, Passed),
    ?assertEqual(false, erlang:module_loaded(petri_naive_1)).
