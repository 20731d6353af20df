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
