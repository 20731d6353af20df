%% petri_eval_tests - every way a genome can end, with small limits; the node
%% (this test process) survives all of them.
-module(petri_eval_tests).
-include_lib("eunit/include/eunit.hrl").

-define(SLOT, petri_eval_test_slot).

cases() -> [{[X], X * X + 2 * X - 1} || X <- lists:seq(-10, 10)].

spec(Extra) ->
    petri_spec:new(maps:merge(#{cases => cases(), timeout_ms => 300, heap_words => 20000}, Extra)).

job(Body) -> job(Body, #{}).

job(Body, Extra) ->
    Src = iolist_to_binary(["-module(genome).\n-export([f/1]).\n", Body]),
    R = petri_eval:job(spec(Extra), Src, ?SLOT),
    _ = code:purge(?SLOT),
    five(R).

%% The first five fields (RESULT without RESULT_EXT).
five({St, Fit, Detail, LoadUs, EvalUs, _Ext}) -> {St, Fit, Detail, LoadUs, EvalUs}.

exact_test() ->
    ?assertMatch({ok, 0.0, <<>>, _, _}, job("f(X) -> X*X+2*X-1.\n")).

abs_error_test() ->
    %% sum over -10..10 of |2X - 1|
    Expect = float(lists:sum([abs(2 * X - 1) || X <- lists:seq(-10, 10)])),
    ?assertMatch({ok, Expect, <<>>, _, _}, job("f(X) -> X*X.\n")).

square_error_test() ->
    Expect = float(lists:sum([(2 * X - 1) * (2 * X - 1) || X <- lists:seq(-10, 10)])),
    ?assertMatch({ok, Expect, _, _, _}, job("f(X) -> X*X.\n", #{error => 1})).

float_result_test() ->
    ?assertMatch({ok, F, _, _, _} when is_float(F), job("f(X) -> X*X+2*X-1.5.\n")).

infinite_loop_test() ->
    ?assertMatch({timeout, nan, <<"wall-clock deadline of 300 ms exceeded">>, _, _},
                 job("f(X) -> f(X).\n")).

reduction_budget_test() ->
    ?assertMatch({timeout, nan, <<"reduction budget 50000 exceeded">>, _, _},
                 job("f(X) -> g(X, 0).\ng(_, 100000000) -> 0;\ng(X, N) -> g(X, N + 1).\n",
                     #{reductions => 50000, timeout_ms => 5000})),
    %% under budget: fine
    ?assertMatch({ok, 0.0, _, _, _}, job("f(X) -> X*X+2*X-1.\n", #{reductions => 50000})).

small_budget_checked_at_end_test() ->
    %% finishes within one poll period but used more than the budget
    ?assertMatch({timeout, nan, <<"reduction budget 100 exceeded">>, _, _},
                 job("f(X) -> lists:sum(lists:seq(1, 200)) * 0 + X*X+2*X-1.\n", #{reductions => 100})).

deep_recursion_test() ->
    ?assertMatch({heap_limit, nan, <<"heap limit of 20000 words exceeded">>, _, _},
                 job("f(X) -> 1 + f(X + 1).\n")),
    %% the smallest limit: stack-driven growth must not take the VM down
    ?assertMatch({heap_limit, nan, <<"heap limit of 1000 words exceeded">>, _, _},
                 job("f(X) when X > 100000000 -> 0;\nf(X) -> 1 + f(X + 1).\n", #{heap_words => 1000})).

memory_bomb_test() ->
    ?assertMatch({heap_limit, nan, _, _, _}, job("f(X) -> length(lists:seq(1, 10000000)) + X.\n")),
    ?assertMatch({heap_limit, nan, _, _, _}, job("f(X) -> tuple_size(erlang:make_tuple(1000000, X)).\n")).

non_number_test() ->
    ?assertMatch({bad_result, nan, <<"case 1: result foo is not a number">>, _, _}, job("f(_) -> foo.\n")),
    ?assertMatch({bad_result, nan, <<"case 1: result [1,2,3,", _/binary>>, _, _},
                 job("f(_) -> lists:seq(1, 1000).\n")).

overflow_test() ->
    %% an integer too large for a float
    ?assertMatch({bad_result, nan, <<"case 1: error of result", _/binary>>, _, _},
                 job("f(X) -> X * (1 bsl 1100).\n")),
    %% each error fits, their sum does not
    ?assertMatch({bad_result, nan, <<"fitness overflows a float", _/binary>>, _, _},
                 job("f(_) -> 1.0e308.\n")).

exception_test() ->
    ?assertMatch({crash, nan, <<"case 1: error:badarith">>, _, _}, job("f(X) -> X / 0.\n")),
    ?assertMatch({crash, nan, <<"case 1: throw:oops">>, _, _}, job("f(_) -> throw(oops).\n")),
    ?assertMatch({crash, nan, <<"case 1: exit:bye">>, _, _}, job("f(_) -> exit(bye).\n")),
    ?assertMatch({crash, nan, <<"case 1: error:{badmatch,2}">>, _, _}, job("f(_) -> 1 = 2.\n")),
    ?assertMatch({crash, nan, <<"case 11: error:function_clause">>, _, _}, job("f(X) when X < 0 -> X.\n")).

loader_failures_test() ->
    ?assertMatch({parse_error, nan, _, _, 0}, job("f(X) -> .\n")),
    ?assertMatch({unsafe, nan, _, _, 0}, job("f(X) -> erlang:halt().\n")),
    ?assertMatch({compile_error, nan, _, _, 0}, job("f(X) -> Y.\n")),
    Big = binary:copy(<<" ">>, 10 * 1024 * 1024),
    ?assertMatch({parse_error, nan, <<"source is 10485", _/binary>>, _, 0},
                 five(petri_eval:job(spec(#{}), Big, ?SLOT))).

wrong_arity_test() ->
    ?assertMatch({compile_error, nan, <<"function f/1 is not exported">>, _, 0},
                 five(petri_eval:job(spec(#{}), <<"-module(g).\n-export([f/2]).\nf(A, B) -> A + B.\n">>, ?SLOT))).

no_leftovers_test() ->
    N = erlang:system_info(process_count),
    _ = job("f(X) -> f(X).\n", #{timeout_ms => 20}),
    _ = job("f(X) -> 1 + f(X + 1).\n"),
    ?assertEqual(N, erlang:system_info(process_count)),
    ?assertEqual([], [M || {petri_score, _, _} = M <- element(2, process_info(self(), messages))]).

fitness_test() ->
    ?assertEqual({ok, 2.0}, petri_eval:fitness(abs, 3, 1)),
    ?assertEqual({ok, 4.0}, petri_eval:fitness(square, 3, 1)),
    ?assertEqual(overflow, petri_eval:fitness(square, 1.0e200, 0)).
