%% petri_std_tests - the checked operations: fast paths give the operator's
%% result, and every cap is hit with a petri_limit error before the work.
-module(petri_std_tests).
-include_lib("eunit/include/eunit.hrl").

-define(LIMIT(Expr), ?assertError({petri_limit, _}, Expr)).

%% Runs F in a fresh process, as an evaluation does (the byte budget and
%% the watcher belong to the process).
fresh(F) ->
    {Pid, Ref} = spawn_monitor(fun() -> exit({done, catch F()}) end),
    receive {'DOWN', Ref, process, Pid, R} -> R end.

mul_test() ->
    ?assertEqual(12, petri_std:mul(3, 4)),
    ?assertEqual(7.5, petri_std:mul(2.5, 3)),
    ?assertEqual((1 bsl 100) * (1 bsl 100), petri_std:mul(1 bsl 100, 1 bsl 100)),
    ?assertError(badarith, petri_std:mul(a, 1)),
    ?LIMIT(petri_std:mul(1 bsl 40000, 1 bsl 40000)).

shift_test() ->
    ?assertEqual(8, petri_std:shl(1, 3)),
    ?assertEqual(1, petri_std:shr(8, 3)),
    ?assertEqual(1 bsl 1000, petri_std:shl(1, 1000)),
    ?LIMIT(petri_std:shl(1, 100000)),
    ?LIMIT(petri_std:shr(1, -100000)),
    ?assertEqual(0, petri_std:shr(1 bsl 1000, 100000)).

pow_test() ->
    ?assertEqual(1024, petri_std:int_pow(2, 10)),
    ?assertEqual(1, petri_std:int_pow(1, 1 bsl 60)),
    ?LIMIT(petri_std:int_pow(3, 1000000)).

sizes_test() ->
    ?assertEqual(16, petri_std:bin_size(16, 8)),
    ?LIMIT(petri_std:bin_size(1 bsl 40, 1)),
    ?assertEqual(<<"abab">>, petri_std:binary_copy(<<"ab">>, 2)),
    ?LIMIT(petri_std:binary_copy(<<"ab">>, 1 bsl 40)),
    ?LIMIT(petri_std:string_copies("ab", 1 bsl 40)),
    ?LIMIT(petri_std:lists_seq(1, 1 bsl 40)),
    ?LIMIT(petri_std:lists_duplicate(1 bsl 40, x)),
    ?LIMIT(petri_std:make_tuple(1 bsl 40, x)),
    ?assertEqual([1, 2, 3], petri_std:lists_seq(1, 3)),
    ?assertEqual(<<"b-b-b">>, petri_std:binary_replace(<<"a-a-a">>, <<"a">>, <<"b">>, [global])).

%% iodata sharing one binary many times is measured by walking it.
doubling_test_() -> {timeout, 60, fun doubling/0}.

doubling() ->
    D = lists:foldl(fun(_, Acc) -> [Acc, Acc] end, <<"x">>, lists:seq(1, 40)),
    ?LIMIT(petri_std:iolist_to_binary(D)),
    ?assertEqual(<<"xx">>, petri_std:iolist_to_binary([<<"x">>, "x"])).

digits_test() ->
    ?assertEqual(<<"123">>, petri_std:integer_to_binary(123)),
    ?LIMIT(petri_std:binary_to_integer(binary:copy(<<"9">>, 100000))),
    ?LIMIT(petri_std:integer_to_binary(1 bsl 100000)).

%% Segments: each at most cap/K, and all of them count against the budget.
bin_seg_test_() -> {timeout, 60, fun bin_seg/0}.

bin_seg() ->
    B = binary:copy(<<"x">>, 1000),
    ?assertEqual(B, petri_std:bin_seg(B, 1)),
    ?LIMIT(petri_std:bin_seg(binary:copy(<<"x">>, 9000000), 2)),
    Big = binary:copy(<<"x">>, 8000000),
    ?assertMatch({done, {'EXIT', {{petri_limit, _}, _}}},
                 fresh(fun() -> [petri_std:bin_seg(Big, 1) || _ <- lists:seq(1, 100)] end)),
    ?assertMatch({done, [_ | _]}, fresh(fun() -> [petri_std:bin_seg(Big, 1) || _ <- lists:seq(1, 10)] end)).

%% The watcher kills an evaluation process that holds too many binaries.
watcher_test_() -> {timeout, 60, fun watcher/0}.

watcher() ->
    R = fresh(fun() ->
                      petri_std:guard(),
                      L = [binary:copy(<<"x">>, 8000000 + I) || I <- lists:seq(1, 40)],
                      receive after 200 -> length(L) end
              end),
    ?assertEqual(killed, R).

sorter_test() ->
    _ = code:add_pathz("/usr/lib/elixir/lib/elixir/ebin"),
    case code:ensure_loaded('Elixir.Enum') of
        {module, _} ->
            ?assertEqual([3, 2, 1], petri_std:ex_sort([1, 3, 2], desc)),
            ?LIMIT(petri_std:ex_sort([1, 3, 2], os));
        _ -> ok
    end.

%% Division costs (quotient words) x (divisor words): checked past small operands.
div_test() ->
    ?assertEqual(3, petri_std:idiv(7, 2)),
    ?assertEqual(1, petri_std:irem(7, 2)),
    ?assertEqual(1, petri_std:irem(1 bsl 1000 + 1, 1 bsl 999)),
    ?assertError(badarith, petri_std:idiv(1, 0)),
    Big = 1 bsl 6400000,
    ?LIMIT(petri_std:irem(Big, 1 bsl 3200000)),
    ?LIMIT(petri_std:decode_unsigned(binary:copy(<<255>>, 100000))).
