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
    R.

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
                 petri_eval:job(spec(#{}), Big, ?SLOT)).

wrong_arity_test() ->
    ?assertMatch({compile_error, nan, <<"function f/1 is not exported">>, _, 0},
                 petri_eval:job(spec(#{}), <<"-module(g).\n-export([f/2]).\nf(A, B) -> A + B.\n">>, ?SLOT)).

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

%% ---- term cases, tolerance, passed/cases, metrics, cost, evaluators ----------

-define(SORT, "f([]) -> [];\nf([H | T]) -> ins(H, f(T)).\n"
              "ins(X, []) -> [X];\nins(X, [Y | T]) when X =< Y -> [X, Y | T];\n"
              "ins(X, [Y | T]) -> [Y | ins(X, T)].\n").

%% Runs Body as f/1 on term cases; the full result with RESULT_EXT.
tjob(Body, Cases, Extra) ->
    Src = iolist_to_binary(["-module(genome).\n-export([f/1]).\n", Body]),
    S = petri_spec:new(maps:merge(#{term_cases => {ok, Cases}, timeout_ms => 2000,
                                    heap_words => 200000}, Extra)),
    R = petri_eval:job_ext(S, Src, ?SLOT),
    _ = code:purge(?SLOT),
    R.

sort_cases() ->
    [{[L], lists:sort(L)} || L <- [[], [1], [3, 1, 2], [1, 2, 3], [5, 4, 3, 2, 1], [2, 2, 1],
                                   [-1, 10, 0, 7], [1, 1, 1], [9, 8], [4, 5]]].

list_sort_test() ->
    {ok, 0.0, <<>>, _, _, Ext} = tjob(?SORT, sort_cases(), #{}),
    ?assertMatch(#{passed := 10, cases := 10, reused := false, errors := [],
                   metrics := [{<<"reductions">>, _}, {<<"heap_words">>, _}, {<<"eval_us">>, _}]}, Ext),
    [{_, Reds}, {_, Heap}, {_, Us}] = maps:get(metrics, Ext),
    ?assert(Reds > 0 andalso Heap > 0 andalso Us >= 0).

wrong_sort_gets_partial_passes_test() ->
    %% identity: the already sorted lists pass ([], [1], [1,2,3], [1,1,1], [4,5])
    {ok, F, <<>>, _, _, Ext} = tjob("f(L) -> L.\n", sort_cases(), #{mismatch_error => 2.0,
                                                                  per_case => true}),
    ?assertMatch(#{passed := 5, cases := 10}, Ext),
    ?assertEqual(10.0, F),
    ?assertEqual([0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 2.0, 0.0, 2.0, 0.0], maps:get(errors, Ext)),
    %% a non-list result is a failed case, not bad_result
    ?assertMatch({ok, 10.0, <<>>, _, _, #{passed := 0}}, tjob("f(_) -> foo.\n", sort_cases(), #{})).

float_tolerance_test() ->
    Cases = [{[1.0], 1.0}, {[2.0], {ok, [2.0]}}],
    Body = "f(1.0) -> 1.0000001;\nf(X) -> {ok, [X + 0.0000001]}.\n",
    %% exact: both fail; the numeric one's error is the distance
    {ok, F0, _, _, _, E0} = tjob(Body, Cases, #{per_case => true, mismatch_error => 4.0}),
    ?assertMatch(#{passed := 0}, E0),
    [D, 4.0] = maps:get(errors, E0),
    ?assert(D > 0 andalso D < 1.0e-6),
    ?assertEqual(D + 4.0, F0),
    %% within 1e-3: both pass, inside a structure too; the distance stays the error
    {ok, F1, _, _, _, E1} = tjob(Body, Cases, #{per_case => true, float_tol => 1.0e-3}),
    ?assertMatch(#{passed := 2, errors := [D, 0.0]}, E1),
    ?assertEqual(D, F1),
    %% an integer and an equal float match; integers never use the tolerance
    ?assertEqual({true, 0.0}, petri_eval:compare(2, 2.0, abs, 0.0, 1.0)),
    ?assertEqual({false, 1.0}, petri_eval:compare(3, 2, abs, 5.0, 1.0)),
    ?assertEqual({false, 4.0}, petri_eval:compare(3, 1, square, 0.0, 1.0)),
    ?assertEqual({true, 0.0}, petri_eval:compare(#{a => [1.0]}, #{a => [1.0001]}, abs, 0.01, 1.0)),
    ?assertEqual({false, 7.0}, petri_eval:compare(#{a => 1}, #{b => 1}, abs, 0.01, 7.0)),
    ?assertEqual({false, 7.0}, petri_eval:compare("abc", <<"abc">>, abs, 0.01, 7.0)).

mismatch_error_test() ->
    Cases = [{[x], <<1, 2>>}, {[y], {1, 2}}, {[z], [1, 2]}],
    {ok, F, _, _, _, Ext} = tjob("f(_) -> [1, 2].\n", Cases, #{mismatch_error => 5.0}),
    ?assertEqual(10.0, F),
    ?assertMatch(#{passed := 1, cases := 3}, Ext),
    %% a case that raises is a failed case with the mismatch error, counted
    {ok, F2, _, _, _, Ext2} = tjob("f(x) -> erlang:error(no);\nf(_) -> [1, 2].\n", Cases,
                                   #{mismatch_error => 5.0}),
    ?assertEqual(10.0, F2),   % x raised, y mismatched, z passed
    ?assertMatch(#{passed := 1, cases := 3}, Ext2),
    ?assertEqual({<<"crashed_cases">>, 1.0},
                 lists:keyfind(<<"crashed_cases">>, 1, maps:get(metrics, Ext2))),
    {ok, 3.0, _, _, _, #{passed := 0, cases := 3}} = tjob("f(X) -> X + 1.\n", Cases, #{}).

%% The edit error: lists, strings and binaries by Levenshtein distance,
%% tuples by the sum of their elements', numbers by their difference; a
%% wrong result still never passes.
edit_error_test() ->
    C = fun(V, W) -> petri_eval:compare(V, W, edit, 0.0, 9.0) end,
    ?assertEqual({false, 3.0}, C("kitten", "sitting")),
    ?assertEqual({false, 1.0}, C({"a b", 2}, {"a\nb", 2})),
    ?assertEqual({false, 4.0}, C({"a b", 5}, {"a\nb", 2})),
    ?assertEqual({false, 1.0}, C(<<"abc">>, <<"abd">>)),
    ?assertEqual({false, 2.0}, C([], [1, 2])),
    ?assertEqual({false, 2.0}, C([1, 2, 3, 4], [1, 4])),
    ?assertEqual({true, 0.0}, C({"ab", 2}, {"ab", 2})),
    ?assertEqual({false, 3.0}, C(4, 1)),
    %% what has no distance is the mismatch error
    ?assertEqual({false, 9.0}, C([1 | 2], [1, 2])),
    ?assertEqual({false, 9.0}, C("abc", <<"abc">>)),
    ?assertEqual({false, 9.0}, C({1, 2, 3}, {1, 2})),
    ?assertEqual({false, 9.0}, C(foo, [1])),
    ?assertEqual({false, 9.0}, C(#{a => 1}, #{a => 2})),
    ?assertEqual({false, 10.0}, C({foo, [1]}, {bar, [1, 2]})),
    %% elements compare within the tolerance
    ?assertEqual({false, 1.0}, petri_eval:compare([1.0001, 2.0], [1.0, 3.0], edit, 0.01, 9.0)),
    %% past the table's bound, the larger remaining length
    ?assertEqual({false, 200.0}, C(lists:seq(1, 200), lists:seq(1001, 1100))),
    ?assertEqual({false, 1.0}, C(lists:seq(1, 200), lists:seq(2, 200))),
    %% against a plain reference implementation, on random pairs
    R = rand:seed_s(exsss, 7),
    lists:foldl(fun(_, R0) ->
                        {A, R1} = rstr(R0),
                        {B, R2} = rstr(R1),
                        Want = lev_ref(A, B),
                        ?assertEqual({A =:= B, float(Want)}, C(A, B), {A, B}),
                        R2
                end, R, lists:seq(1, 300)).

rstr(R0) ->
    {N, R1} = rand:uniform_s(12, R0),
    lists:foldl(fun(_, {Acc, Rx}) ->
                        {X, Ry} = rand:uniform_s(3, Rx),
                        {[$a + X | Acc], Ry}
                end, {[], R1}, lists:seq(2, N)).

lev_ref(A, B) ->
    {D, _} = lev_ref(A, B, #{}),
    D.

lev_ref([], B, M) -> {length(B), M};
lev_ref(A, [], M) -> {length(A), M};
lev_ref([X | A] = AA, [Y | B] = BB, M) ->
    case M of
        #{{AA, BB} := D} -> {D, M};
        _ ->
            {D1, M1} = lev_ref(A, B, M),
            {D2, M2} = lev_ref(AA, B, M1),
            {D3, M3} = lev_ref(A, BB, M2),
            D = min(D1 + case X =:= Y of true -> 0; false -> 1 end, min(D2, D3) + 1),
            {D, M3#{{AA, BB} => D}}
    end.

%% A spec with error edit (code 2): per-case errors are the distances; a
%% genome that answers a huge list pays the bound, not a timeout.
edit_error_spec_test() ->
    {ok, F, <<>>, _, _, Ext} = tjob("f(L) -> L.\n", sort_cases(), #{error => 2,
                                                                  per_case => true}),
    %% [5, 4, 3, 2, 1] keeps its 3 and needs 4 replacements; the others 2 edits
    ?assertEqual([0.0, 0.0, 2.0, 0.0, 4.0, 2.0, 2.0, 0.0, 2.0, 0.0], maps:get(errors, Ext)),
    ?assertEqual(12.0, F),
    ?assertMatch(#{passed := 5}, Ext),
    %% 10,000 sevens before L: a list longer than the table's bound is not
    %% reversed to drop a common suffix, so each case scores the bound,
    %% 10,000 + length(L) (26 elements in all)
    {ok, Big, <<>>, _, _, _} = tjob("f(L) -> lists:duplicate(10000, 7) ++ L.\n", sort_cases(),
                                    #{error => 2}),
    ?assertEqual(100026.0, Big),
    ?assertMatch({error, _}, petri_spec:validate(petri_spec:new(#{error => 3}))).

%% split_tuples: a case expecting {Text, Count} gives two errors, the text's
%% (exact: 0 or Mis) and the count's (abs), so a genome right on the count
%% alone is told apart from one right on neither; a wrong shape or a raise
%% costs Mis per element; cases that expect no tuple keep one error.
split_tuples_test() ->
    Cases = [{[S], {[case C of $\s -> $\n; _ -> C end || C <- S],
                    length([C || C <- S, C =/= $\s])}}
             || S <- ["", "ab", "a b", "a  b c"]] ++ [{["xyz"], 7}],
    Count = "f(\"xyz\") -> 7;\nf(S) -> {S, length(lists:filter(fun(C) -> C =/= $\\s end, S))}.\n",
    {ok, F, <<>>, _, _, Ext} = tjob(Count, Cases, #{split_tuples => true, per_case => true}),
    %% "a b" and "a  b c": text wrong, count right; "xyz": 7
    ?assertEqual([0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0], maps:get(errors, Ext)),
    ?assertEqual(2.0, F),
    ?assertMatch(#{passed := 3, cases := 5}, Ext),
    %% whole: one error a case, the fitness counts failed cases
    {ok, 2.0, <<>>, _, _, Whole} = tjob(Count, Cases, #{per_case => true}),
    ?assertEqual([0.0, 0.0, 1.0, 1.0, 0.0], maps:get(errors, Whole)),
    %% the same genome off by one on the count: the count's error is its distance
    {ok, _, <<>>, _, _, Off} = tjob("f(\"xyz\") -> 7;\nf(S) -> {S, length(S) + 1}.\n", Cases,
                                    #{split_tuples => true, per_case => true}),
    ?assertEqual([0.0, 1.0, 0.0, 1.0, 1.0, 2.0, 1.0, 4.0, 0.0], maps:get(errors, Off)),
    %% a raise, a wrong size and a non-tuple cost Mis for each element
    {ok, Bad, <<>>, _, _, BadExt} =
        tjob("f(\"\") -> error(boom);\nf(\"ab\") -> {1, 2, 3};\nf(_) -> 7.\n", Cases,
             #{split_tuples => true, per_case => true, mismatch_error => 2.0}),
    ?assertEqual([2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 0.0], maps:get(errors, BadExt)),
    ?assertEqual(16.0, Bad),
    ?assertMatch(#{passed := 1}, BadExt).

numeric_passed_test() ->
    ?assertMatch({ok, 0.0, <<>>, _, _, #{passed := 21, cases := 21, errors := []}},
                 petri_eval:job_ext(spec(#{}), <<"-module(g).\n-export([f/1]).\nf(X) -> X*X+2*X-1.\n">>, ?SLOT)),
    %% f(X) = X*X is off by |2X - 1|: within 3 for X in -1..2
    {ok, _, _, _, _, Ext} = petri_eval:job_ext(spec(#{float_tol => 3.0, per_case => true}),
                                           <<"-module(g).\n-export([f/1]).\nf(X) -> X*X.\n">>, ?SLOT),
    ?assertMatch(#{passed := 4, cases := 21}, Ext),
    ?assertEqual([float(abs(2 * X - 1)) || X <- lists:seq(-10, 10)], maps:get(errors, Ext)),
    _ = code:purge(?SLOT).

cost_modes_test() ->
    Src = <<"-module(g).\n-export([f/1]).\nf(X) -> X*X.\n">>,
    Err = float(lists:sum([abs(2 * X - 1) || X <- lists:seq(-10, 10)])),
    {ok, Err, _, _, _, #{cost := C0}} = petri_eval:job_ext(spec(#{cost_w => {1.0, 1.0, 1.0}}), Src, ?SLOT),
    ?assertEqual(0.0, C0),
    %% lexicographic: the fitness stays the error, the cost is reported
    {ok, Err, _, _, _, #{cost := C1, metrics := [{_, Reds} | _]}} =
        petri_eval:job_ext(spec(#{cost_mode => 1, cost_w => {2.0, 0.0, 0.0}}), Src, ?SLOT),
    ?assertEqual(2.0 * Reds, C1),
    %% weighted: fitness = error + cost
    {ok, F2, _, _, _, #{cost := C2, metrics := [_, {_, Heap} | _]}} =
        petri_eval:job_ext(spec(#{cost_mode => 2, cost_w => {0.0, 0.5, 0.0}}), Src, ?SLOT),
    ?assertEqual(0.5 * Heap, C2),
    ?assertEqual(Err + C2, F2),
    ?assert(C2 > 0),
    _ = code:purge(?SLOT).

%% A binary off the heap counts against heap_words (bit syntax is not allowed in
%% genomes, so this module is compiled here, outside the loader).
big_binary_test() ->
    Mod = petri_eval_test_bin,
    Forms = [{attribute, 1, module, Mod}, {attribute, 1, export, [{f, 1}, {g, 1}]}
             | [F || {ok, F} <- [parse("f(X) -> B = binary:copy(<<1>>, 10000000), "
                                       "timer:sleep(50), byte_size(B) * 0 + X.\n"),
                                 parse("g(X) -> B = binary:copy(<<1>>, 10000000), "
                                       "{byte_size(B) * 0 + X, B}.\n")]]],
    {ok, Mod, Bin} = compile:forms(Forms, [binary]),
    {module, Mod} = code:load_binary(Mod, "test", Bin),
    S = spec(#{heap_words => 20000, cases => [{[1], 1}], timeout_ms => 10000}),
    %% held while the watchdog samples
    ?assertMatch({heap_limit, nan, <<"heap limit of 20000 words exceeded">>, _, _},
                 petri_eval:run_ext(Mod, S)),
    %% held at the end, in a result: the final measure sees it
    ?assertMatch({heap_limit, nan, _, _, #{metrics := [_, {<<"heap_words">>, H} | _]}} when H > 1.0e6,
                 petri_eval:run_ext(Mod, S#{function => <<"g">>, term_cases => {ok, [{[1], 1}]},
                                        cases => []})),
    %% with room for the binaries, the same genome scores
    ?assertMatch({ok, 0.0, _, _, _}, petri_eval:run_ext(Mod, S#{function => <<"g">>, heap_words => 10000000,
                                                             term_cases => {ok, [{[1], {1, binary:copy(<<1>>, 10000000)}}]},
                                                             cases => []})),
    _ = code:purge(Mod), _ = code:delete(Mod).

parse(S) ->
    {ok, Toks, _} = erl_scan:string(S),
    erl_parse:parse_form(Toks).

%% ---- evaluator modules ---------------------------------------------------------

ev_job(Genome, EvSrc, Extra) ->
    S = petri_spec:new(maps:merge(#{evaluator => iolist_to_binary(EvSrc), timeout_ms => 500,
                                    heap_words => 100000}, Extra)),
    Src = iolist_to_binary(["-module(genome).\n-export([f/1]).\n", Genome]),
    R = petri_eval:job_ext(S, Src, ?SLOT),
    _ = code:purge(?SLOT),
    R.

-define(EV, "-module(petri_test_ev).\n-export([evaluate/1]).\n"
            "evaluate(F) -> E = abs(F(3) - 15) + abs(F(0) - 1),\n"
            "    {E, #{calls => 2, <<\"ratio\">> => 0.5, passed => 1, cases => 2}}.\n").

evaluator_test() ->
    {ok, 1.0, <<>>, _, _, Ext} = ev_job("f(X) -> X*X + 2*X.\n", ?EV, #{}),
    ?assertMatch(#{passed := 1, cases := 2,
                   metrics := [{<<"reductions">>, _}, {<<"heap_words">>, _}, {<<"eval_us">>, _},
                               {<<"calls">>, 2.0}, {<<"ratio">>, 0.5}]}, Ext),
    %% compiled once: the same source finds the loaded module
    ?assertMatch({ok, petri_test_ev}, petri_evaluator:ensure(erlang, iolist_to_binary(?EV))),
    %% just a number
    ?assertMatch({ok, 7.0, _, _, _, #{passed := 0, cases := 0}},
                 ev_job("f(X) -> X.\n", "-module(petri_test_ev2).\n-export([evaluate/1]).\n"
                                         "evaluate(F) -> F(7).\n", #{})),
    %% the genome crashes inside the evaluator: crash
    ?assertMatch({crash, nan, <<"evaluator: error:badarith">>, _, _, _},
                 ev_job("f(X) -> X / 0.\n", ?EV, #{})),
    %% the same limits: a loop in the genome called by the evaluator times out
    ?assertMatch({timeout, nan, _, _, _, _}, ev_job("f(X) -> f(X).\n", ?EV, #{timeout_ms => 50})).

evaluator_garbage_test() ->
    Ev = fun(N, Body) -> ["-module(petri_test_ev_", N, ").\n-export([evaluate/1]).\n", Body] end,
    G = "f(X) -> X.\n",
    ?assertMatch({bad_result, nan, <<"evaluator: result foo is neither", _/binary>>, _, _, _},
                 ev_job(G, Ev("a", "evaluate(_) -> foo.\n"), #{})),
    ?assertMatch({bad_result, nan, <<"evaluator: metric x: nan is not a finite number">>, _, _, _},
                 ev_job(G, Ev("b", "evaluate(_) -> {1, #{x => nan}}.\n"), #{})),
    ?assertMatch({bad_result, nan, <<"evaluator: metric name", _/binary>>, _, _, _},
                 ev_job(G, Ev("c", "evaluate(_) -> {1, #{[1] => 2}}.\n"), #{})),
    ?assertMatch({bad_result, nan, <<"evaluator: 33 metrics, limit 32">>, _, _, _},
                 ev_job(G, Ev("d", "evaluate(_) -> {1, maps:from_list([{I, I} || I <- lists:seq(1, 33)])}.\n"), #{})),
    ?assertMatch({bad_result, nan, <<"evaluator: metric passed must be", _/binary>>, _, _, _},
                 ev_job(G, Ev("e", "evaluate(_) -> {1, #{passed => -1}}.\n"), #{})),
    ?assertMatch({crash, nan, <<"evaluator: error:oops">>, _, _, _},
                 ev_job(G, Ev("f", "evaluate(_) -> erlang:error(oops).\n"), #{})),
    %% compile errors: status internal with the compiler's text
    ?assertMatch({internal, nan, <<"evaluator: line 3: variable 'Y' is unbound">>, _, 0, _},
                 ev_job(G, Ev("g", "evaluate(_) -> Y.\n"), #{})),
    ?assertMatch({internal, nan, <<"evaluator: module petri_test_ev_h does not export evaluate/1">>, _, 0, _},
                 ev_job(G, "-module(petri_test_ev_h).\n-export([x/0]).\nx() -> 1.\n", #{})),
    %% a name taken by loaded code (here the stdlib's lists) is refused
    ?assertMatch({internal, nan, <<"evaluator: module name lists is taken", _/binary>>, _, 0, _},
                 ev_job(G, "-module(lists).\n-export([evaluate/1]).\nevaluate(_) -> 0.\n", #{})),
    ?assertMatch({ok, 0.0, _, _, _, _}, petri_eval:job_ext(petri_spec:new(#{cases => [{[1], 1}]}),
                                                   <<"-module(g).\n-export([f/1]).\nf(X) -> X.\n">>, ?SLOT)),
    _ = code:purge(?SLOT).

elixir_evaluator_test_() ->
    %% the agent passes Elixir's ebin with -pa; here it is added when installed
    Ebin = "/usr/lib/elixir/lib/elixir/ebin",
    _ = filelib:is_dir(Ebin) andalso code:add_pathz(Ebin),
    case petri_elixir:available() of
        false -> [];
        true ->
            {timeout, 60,
             fun() ->
                     Src = "defmodule PetriTestElixirEv do\n"
                           "  def evaluate(f), do: {abs(f.(2) - 8), %{\"doubled\" => f.(1) * 2}}\n"
                           "end\n",
                     {ok, E, <<>>, _, _, Ext} = ev_job("f(X) -> X * X * X.\n", Src, #{evaluator_lang => 1,
                                                                                    timeout_ms => 5000}),
                     ?assertEqual(0.0, E),
                     ?assertMatch(#{metrics := [_, _, _, {<<"doubled">>, 2.0}]}, Ext),
                     ?assertMatch({internal, nan, <<"evaluator: ", _/binary>>, _, 0, _},
                                  ev_job("f(X) -> X.\n", "defmodule Broken do\n def evaluate(f), do: g(f)\nend\n",
                                         #{evaluator_lang => 1}))
             end}
    end.
