%% petri_slots_tests - allocation order, release states, purge batches.
-module(petri_slots_tests).
-include_lib("eunit/include/eunit.hrl").

clean_first_test() ->
    S0 = petri_slots:new(3),
    {ok, 0, S1} = petri_slots:alloc(S0),
    {ok, 1, S2} = petri_slots:alloc(S1),
    S3 = petri_slots:release(0, true, false, S2),   % loaded, no old code: clean
    ?assertEqual(1, petri_slots:live(S3)),
    {ok, 0, S4} = petri_slots:alloc(S3),             % clean before fresh
    {ok, 2, S5} = petri_slots:alloc(S4),
    ?assertEqual(none, petri_slots:alloc(S5)),
    S6 = petri_slots:release(0, true, true, S5),     % old code now: dirty
    ?assertEqual(1, petri_slots:dirty_count(S6)),
    ?assertEqual(1, petri_slots:pending_purge(S6)),
    ?assertEqual(none, petri_slots:alloc(S6)),
    {[0], S7} = petri_slots:take_dirty(S6),
    ?assertEqual(0, petri_slots:dirty_count(S7)),
    ?assertEqual(1, petri_slots:pending_purge(S7)),
    ?assertEqual(none, petri_slots:alloc(S7)),
    S8 = petri_slots:purged([{0, false}], S7),
    ?assertEqual(0, petri_slots:pending_purge(S8)),
    {ok, 0, _} = petri_slots:alloc(S8).

failed_load_test() ->
    S0 = petri_slots:new(1),
    {ok, 0, S1} = petri_slots:alloc(S0),
    S2 = petri_slots:release(0, false, false, S1),   % parse error: still fresh
    ?assertEqual(0, petri_slots:live(S2)),
    ?assertEqual(1, petri_slots:free_count(S2)),
    {ok, 0, _} = petri_slots:alloc(S2).

purge_retry_test() ->
    S0 = petri_slots:new(1),
    {ok, 0, S1} = petri_slots:alloc(S0),
    S2 = petri_slots:release(0, true, true, S1),
    {[0], S3} = petri_slots:take_dirty(S2),
    S4 = petri_slots:purged([{0, true}], S3),         % still old code: dirty again
    ?assertEqual(1, petri_slots:dirty_count(S4)).

misuse_test() ->
    ?assertError({slot_not_busy, 0}, petri_slots:release(0, true, false, petri_slots:new(2))).

module_test() ->
    ?assertEqual(petri_s0, petri_slots:module(0)),
    ?assertEqual(petri_s9999, petri_slots:module(9999)).

many_slots_test() ->
    S0 = petri_slots:new(10000),
    ?assertEqual(10000, petri_slots:free_count(S0)),
    {Ks, S1} = lists:foldl(fun(_, {Acc, S}) -> {ok, K, S2} = petri_slots:alloc(S), {[K | Acc], S2} end,
                           {[], S0}, lists:seq(1, 10000)),
    ?assertEqual(lists:seq(0, 9999), lists:sort(Ks)),
    ?assertEqual(none, petri_slots:alloc(S1)).
