%% petri_node_tests - the port loop's pure core: frames in, replies and
%% actions out; slots, waiting requests and purge batches; plus real workers.
-module(petri_node_tests).
-include_lib("eunit/include/eunit.hrl").

-define(SRC, <<"-module(genome).\n-export([f/1]).\nf(X) -> X*X+2*X-1.\n">>).

st(N) -> petri_node:init_state(#{slots => N, elixir => false}).

spec() -> petri_spec:new(#{cases => [{[X], X * X + 2 * X - 1} || X <- lists:seq(-10, 10)]}).

frame(Msg) -> petri_wire:encode(Msg).

decode(B) -> {ok, M} = petri_wire:decode(B), M.

ping_test() ->
    {[Pong], [], _} = petri_node:handle_frame(frame({ping, 77}), st(4)),
    {pong, #{seq := 77, memory := Mem, processes := P, atoms := A, live := 0, loads := 0,
             pending_purge := 0, evals_ok := 0, evals_failed := 0}} = decode(Pong),
    ?assert(Mem > 0 andalso P > 0 andalso A > 0).

malformed_test() ->
    {[], [{log, _}], _} = petri_node:handle_frame(<<1, 2, 3>>, st(4)),
    {[], [{log, _}], _} = petri_node:handle_frame(<<9, 0:(23 * 8)>>, st(4)),
    %% unknown type: ignored silently
    {[], [], _} = petri_node:handle_frame(<<1, 77:16, 0, 0:128, 0:32>>, st(4)).

stop_test() ->
    {[], [stop], _} = petri_node:handle_frame(frame(stop), st(4)).

bad_spec_test() ->
    {[R], [], St} = petri_node:handle_frame(frame({eval, 5, (spec())#{error => 9}, ?SRC}), st(4)),
    ?assertMatch({result, 5, unsupported, nan, <<"spec: unknown error measure 9">>, 0, 0, _}, decode(R)),
    {[P], _, _} = petri_node:handle_frame(frame({ping, 1}), St),
    ?assertMatch({pong, #{evals_failed := 1}}, decode(P)).

breed_action_test() ->
    {[], [{breed, 9, _, <<"point">>, 3, [?SRC]}], _} =
        petri_node:handle_frame(frame({breed, 9, spec(), <<"point">>, 3, [?SRC]}), st(1)).

%% Two slots, three pipelined EVALs: the third waits for a purge.
slots_and_purge_test() ->
    S0 = st(2),
    {[], [{eval, 1, _, _, K1}], S1} = petri_node:handle_frame(frame({eval, 1, spec(), ?SRC}), S0),
    {[], [{eval, 2, _, _, K2}], S2} = petri_node:handle_frame(frame({eval, 2, spec(), ?SRC}), S1),
    ?assertEqual([0, 1], lists:sort([K1, K2])),
    {[], [], S3} = petri_node:handle_frame(frame({eval, 3, spec(), ?SRC}), S2),
    %% register fake workers the way the loop does
    W1 = spawn(fun() -> ok end), W2 = spawn(fun() -> ok end),
    S4 = add_worker(W1, {eval, 1, K1}, add_worker(W2, {eval, 2, K2}, S3)),
    Ok = {ok, 0.0, <<>>, 100, 10, ext()},
    %% request 1 finishes leaving old code on its slot: the waiting request
    %% makes the purge urgent
    {[R1], Acts, S5} = petri_node:handle_done(W1, {Ok, {true, true}, none}, S4),
    ?assertMatch({result, 1, ok, 0.0, <<>>, 100, 10, #{passed := 21}}, decode(R1)),
    ?assertEqual([{purge, [K1]}], Acts),
    {[Pong], [], _} = petri_node:handle_frame(frame({ping, 2}), S5),
    ?assertMatch({pong, #{live := 1, loads := 1, pending_purge := 1, evals_ok := 1}}, decode(Pong)),
    %% purge done: request 3 gets the slot
    {[], [{eval, 3, _, _, K1}], S6} = petri_node:handle_purged([{K1, false}], S5),
    %% request 2 fails at parse time: its slot stays fresh, no purge needed
    {[R2], [], S7} = petri_node:handle_done(W2, {{parse_error, nan, <<"x">>, 5, 0, ext()}, {false, false}, none}, S6),
    ?assertMatch({result, 2, parse_error, nan, <<"x">>, 5, 0, _}, decode(R2)),
    {[Pong2], [], _} = petri_node:handle_frame(frame({ping, 3}), S7),
    ?assertMatch({pong, #{live := 1, loads := 1, pending_purge := 0, evals_ok := 1,
                          evals_failed := 1}}, decode(Pong2)).

timer_test() ->
    S0 = st(4),
    {[], [{eval, 1, _, _, K}], S1} = petri_node:handle_frame(frame({eval, 1, spec(), ?SRC}), S0),
    W = spawn(fun() -> ok end),
    S2 = add_worker(W, {eval, 1, K}, S1),
    {[_], [arm_timer], S3} = petri_node:handle_done(W, {{ok, 1.0, <<>>, 1, 1, ext()}, {true, true}, none}, S2),
    {[], [{purge, [K]}], S4} = petri_node:handle_tick(S3),
    {[], [], _} = petri_node:handle_purged([{K, false}], S4).

worker_down_test() ->
    S0 = st(1),
    {[], [{eval, 4, _, _, K}], S1} = petri_node:handle_frame(frame({eval, 4, spec(), ?SRC}), S0),
    W = spawn(fun() -> ok end),
    S2 = add_worker(W, {eval, 4, K}, S1),
    {[R], [], _} = petri_node:handle_worker_down(W, {boom, {false, false}}, S2),
    ?assertMatch({result, 4, internal, nan, <<"worker died: boom">>, 0, 0, _}, decode(R)).

%% BREED_EVAL takes a slot like EVAL and answers with BRED (child + result).
breed_eval_test() ->
    S0 = st(1),
    {[], [{breed_eval, 6, _, {<<"point">>, 3, [?SRC]}, K}], S1} =
        petri_node:handle_frame(frame({breed_eval, 6, spec(), <<"point">>, 3, [?SRC]}), S0),
    %% the only slot is busy: the next request waits
    {[], [], S2} = petri_node:handle_frame(frame({breed_eval, 7, spec(), <<"point">>, 4, [?SRC]}), S1),
    W = spawn(fun() -> ok end),
    S3 = add_worker(W, {breed_eval, 6, K}, S2),
    {[R], Acts, S4} = petri_node:handle_done(W, {{{ok, 2.0, <<>>, 10, 5, ext()}, <<"child">>}, {true, false}, none}, S3),
    ?assertMatch({bred, 6, ok, 2.0, <<>>, 10, 5, <<"child">>, #{passed := 21}}, decode(R)),
    ?assertMatch([{breed_eval, 7, _, {<<"point">>, 4, [?SRC]}, K}], Acts),
    W2 = spawn(fun() -> ok end),
    S5 = add_worker(W2, {breed_eval, 7, K}, S4),
    {[R2], [], _} = petri_node:handle_worker_down(W2, {boom, {true, false}}, S5),
    ?assertMatch({bred, 7, internal, nan, <<"worker died: boom">>, 0, 0, <<>>, _}, decode(R2)),
    %% a bad spec is answered at once
    {[R3], [], _} = petri_node:handle_frame(frame({breed_eval, 8, (spec())#{error => 9}, <<"point">>, 1, [?SRC]}), S0),
    ?assertMatch({bred, 8, unsupported, nan, _, 0, 0, <<>>, _}, decode(R3)).

%% The real worker: load + score in a slot, then the breed path.
real_worker_test() ->
    Self = self(),
    Slot = 9990,
    {Pid, MRef} = spawn_monitor(petri_node, worker, [Self, {eval, 1, Slot}, spec(), {?SRC, <<"key">>}]),
    receive {petri_done, Pid, {Res, Info, <<"key">>}} ->
            ?assertMatch({ok, 0.0, <<>>, _, _, #{passed := 21, cases := 21}}, Res),
            ?assertEqual({true, false}, Info)
    end,
    receive {'DOWN', MRef, _, _, normal} -> ok end,
    {Pid2, _} = spawn_monitor(petri_node, worker, [Self, {breed, 2}, spec(), {<<"random">>, 5, []}]),
    receive {petri_done, Pid2, {ok, Child, <<>>}} -> ?assertMatch(<<"-module(genome).", _/binary>>, Child) end,
    %% breed then score in one worker; a parent that does not parse fails the breeding
    {Pid3, _} = spawn_monitor(petri_node, worker, [Self, {breed_eval, 3, Slot}, spec(),
                                                   {<<"point">>, 5, [?SRC]}]),
    receive {petri_done, Pid3, {{{ok, F, <<>>, _, _, _}, Child3}, {true, true}, K3}} ->
            ?assertEqual(petri_cache:key(spec(), Child3), K3),
            ?assert(is_float(F)),
            ?assertMatch(<<"-module(genome).", _/binary>>, Child3)
    end,
    _ = code:purge(petri_slots:module(Slot)),
    {Pid4, _} = spawn_monitor(petri_node, worker, [Self, {breed_eval, 4, Slot}, spec(),
                                                   {<<"point">>, 5, [<<"-module(">>]}]),
    receive {petri_done, Pid4, {{{parse_error, nan, D, 0, 0, _}, <<>>}, {true, false}, none}} ->
            ?assertMatch(<<"parent 1", _/binary>>, D)
    end,
    M = petri_slots:module(Slot),
    _ = code:purge(M), true = code:delete(M), _ = code:purge(M).

ext() -> (petri_wire:default_ext())#{passed => 21, cases => 21}.

%% The worker map is internal: build it through the same path the loop uses.
add_worker(Pid, Job, St) ->
    setelement(7, St, maps:put(Pid, {undefined, Job}, element(7, St))).
