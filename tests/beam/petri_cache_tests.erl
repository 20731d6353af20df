%% petri_cache_tests - keys, what is kept, the bound, and hits through the
%% node: an EVAL answered from the cache, a BREED_EVAL worker finding its child.
-module(petri_cache_tests).
-include_lib("eunit/include/eunit.hrl").

-define(SRC, <<"-module(genome).\n-export([f/1]).\nf(X) -> X*X+2*X-1.\n">>).

spec() -> petri_spec:new(#{cases => [{[X], X * X + 2 * X - 1} || X <- lists:seq(-10, 10)]}).

with_tables(F) ->
    ok = petri_cache:init(),
    try F()
    after
        ets:delete(petri_cache_new), ets:delete(petri_cache_old)
    end.

entry(St) -> {St, 1.0, <<>>, (petri_wire:default_ext())#{passed => 3, cases => 4}}.

key_test() ->
    K = petri_cache:key(spec(), ?SRC),
    ?assertEqual(32, byte_size(K)),
    ?assertEqual(K, petri_cache:key(spec(), ?SRC)),
    ?assertNotEqual(K, petri_cache:key(spec(), <<?SRC/binary, " ">>)),
    ?assertNotEqual(K, petri_cache:key((spec())#{language => 1}, ?SRC)),
    ?assertNotEqual(K, petri_cache:key((spec())#{timeout_ms => 7}, ?SRC)),
    %% a decoded spec keys on its bytes, which include the language and limits
    {ok, {eval, _, D, _}} = petri_wire:decode(petri_wire:encode({eval, 1, spec(), ?SRC})),
    {ok, {eval, _, D2, _}} = petri_wire:decode(petri_wire:encode({eval, 2, (spec())#{language => 1}, ?SRC})),
    ?assertNotEqual(petri_cache:key(D, ?SRC), petri_cache:key(D2, ?SRC)).

no_tables_is_a_miss_test() ->
    ?assertEqual(miss, petri_cache:lookup(<<"k">>)).

insert_lookup_test() ->
    with_tables(fun() ->
        ok = petri_cache:insert(<<"a">>, entry(ok)),
        ok = petri_cache:insert(<<"b">>, entry(crash)),
        %% never kept: load-dependent or the VM's own failures
        [ok = petri_cache:insert(<<"n", (atom_to_binary(S))/binary>>, entry(S))
         || S <- [timeout, heap_limit, internal, unsupported]],
        ?assertEqual({ok, entry(ok)}, petri_cache:lookup(<<"a">>)),
        ?assertEqual({ok, entry(crash)}, petri_cache:lookup(<<"b">>)),
        ?assertEqual(miss, petri_cache:lookup(<<"ntimeout">>)),
        ?assertEqual(miss, petri_cache:lookup(<<"nheap_limit">>)),
        ?assertEqual(2, petri_cache:size())
    end).

bounded_test() ->
    with_tables(fun() ->
        [ok = petri_cache:insert(<<I:32>>, entry(ok)) || I <- lists:seq(1, 10000)],
        ?assert(petri_cache:size() =< 4096),
        ?assertEqual({ok, entry(ok)}, petri_cache:lookup(<<10000:32>>)),
        ?assertEqual(miss, petri_cache:lookup(<<1:32>>)),
        %% an entry of the old generation inserted again survives the next rotation
        Old = <<(10000 - 3000):32>>,
        {ok, E} = petri_cache:lookup(Old),
        ok = petri_cache:insert(Old, E),
        [ok = petri_cache:insert(<<I:32>>, entry(ok)) || I <- lists:seq(10001, 12100)],
        ?assertEqual({ok, E}, petri_cache:lookup(Old))
    end).

%% The node answers a known EVAL itself, reused set, without a slot or worker.
node_hit_test() ->
    with_tables(fun() ->
        St0 = petri_node:init_state(#{slots => 1, elixir => false}),
        Frame = petri_wire:encode({eval, 5, spec(), ?SRC}),
        {[], [{eval, 5, Spec, {?SRC, Key}, _}], _} = petri_node:handle_frame(Frame, St0),
        ?assertEqual(Key, petri_cache:key(Spec, ?SRC)),
        %% what the owner does with a finished worker's result
        ok = petri_cache:insert(Key, {ok, 0.0, <<>>, (petri_wire:default_ext())#{passed => 21, cases => 21}}),
        {[R], [{cache, Key, _}], St1} = petri_node:handle_frame(Frame, St0),
        ?assertMatch({ok, {result, 5, ok, 0.0, <<>>, 0, 0, #{reused := true, passed := 21, cases := 21}}},
                     petri_wire:decode(R)),
        ?assertMatch(#{cache_hits := 1, evals_ok := 1, loads := 0}, petri_node:stats(St1))
    end).

%% Results the workers report are put in the cache by the owner, not timeouts.
node_inserts_test() ->
    St0 = petri_node:init_state(#{slots => 2, elixir => false}),
    {[], [{eval, 1, _, {_, K1}, S1}], St1} = petri_node:handle_frame(petri_wire:encode({eval, 1, spec(), ?SRC}), St0),
    {[], [{eval, 2, _, {_, K2}, S2}], St2} =
        petri_node:handle_frame(petri_wire:encode({eval, 2, spec(), <<?SRC/binary, " ">>}), St1),
    W1 = spawn(fun() -> ok end), W2 = spawn(fun() -> ok end),
    St3 = add_worker(W2, {eval, 2, S2}, add_worker(W1, {eval, 1, S1}, St2)),
    Ext = petri_wire:default_ext(),
    {[_], Acts, St4} = petri_node:handle_done(W1, {{ok, 2.0, <<>>, 5, 6, Ext}, {true, false}, K1}, St3),
    ?assertEqual([{cache, K1, {ok, 2.0, <<>>, Ext}}], [A || {cache, _, _} = A <- Acts]),
    {[_], Acts2, _} = petri_node:handle_done(W2, {{timeout, nan, <<"t">>, 5, 6, Ext}, {true, false}, K2}, St4),
    ?assertEqual([], [A || {cache, _, _} = A <- Acts2]).

%% A BREED_EVAL worker whose child was evaluated before answers from the cache.
breed_eval_hit_test() ->
    with_tables(fun() ->
        Self = self(),
        Slot = 9980,
        Job = {breed_eval, 3, Slot},
        Args = {<<"point">>, 11, [?SRC]},
        {P1, _} = spawn_monitor(petri_node, worker, [Self, Job, spec(), Args]),
        {Res1, Child, K} = receive {petri_done, P1, {{R, C}, _, Key}} -> {R, C, Key} end,
        ?assertMatch({ok, _, <<>>, _, _, #{reused := false}}, Res1),
        {St, Fit, Detail, _, _, Ext} = Res1,
        ok = petri_cache:insert(K, {St, Fit, Detail, Ext}),
        {P2, _} = spawn_monitor(petri_node, worker, [Self, Job, spec(), Args]),
        receive {petri_done, P2, {{Res2, Child2}, _, K}} ->
                ?assertEqual(Child, Child2),
                ?assertMatch({St, Fit, Detail, 0, 0, #{reused := true}}, Res2),
                ?assertEqual(maps:remove(reused, Ext), maps:remove(reused, element(6, Res2)))
        end,
        M = petri_slots:module(Slot),
        _ = code:purge(M), _ = code:delete(M), _ = code:purge(M)
    end).

add_worker(Pid, Job, St) ->
    setelement(7, St, maps:put(Pid, {undefined, Job}, element(7, St))).
