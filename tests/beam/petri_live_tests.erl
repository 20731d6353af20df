-module(petri_live_tests).
-include_lib("eunit/include/eunit.hrl").

%% A counter: init(N) -> N; handle(inc, S) -> {S + 1, S + 1}; handle(get, S) -> {S, S}.
-define(PARENT, <<"-module(c).\n-export([init/1, handle/2]).\n"
                  "init(N) -> N.\n"
                  "handle(inc, S) -> {S + 1, S + 1};\n"
                  "handle(get, S) -> {S, S}.\n">>).

opts(Id, Src) ->
    opts(Id, Src, #{}).

opts(Id, Src, Over) ->
    maps:merge(#{id => Id, module => list_to_atom("petri_live_test_" ++ integer_to_list(Id)),
                 out => self(), source => Src, init_arg => term_to_binary(0),
                 snapshot => <<>>, version => 1, timeout_ms => 200, heap_words => 1000000,
                 reductions => 5000000, state_words => 10000, probation => 3, window => 10,
                 lat_w => 0.0, red_w => 0.0, tolerance => 0.0}, Over).

child(Handle, Extra) ->
    iolist_to_binary(["%% a child\n-module(c).\n-export([init/1, handle/2", case Extra of <<>> -> ""; _ -> ", code_change/2" end,
                      "]).\ninit(N) -> N.\n", Handle, Extra]).

-define(INC, "handle(inc, S) -> {S + 1, S + 1};\nhandle(get, S) -> {S, S}.\n").

start(Id, Src) ->
    start(Id, Src, #{}).

start(Id, Src, Over) ->
    K = petri_live:start(opts(Id, Src, Over)),
    #{kind := started} = event(Id),
    K.

event(Id) ->
    receive {petri_live_out, Id, {event, E}} -> E
    after 5000 -> error(no_event)
    end.

%% Sends one request and waits for its reply.
ask(K, Id, Seq, Req) ->
    ask(K, Id, Seq, Req, none).

ask(K, Id, Seq, Req, Expect) ->
    K ! {requests, [req(Seq, Req, Expect)]},
    replies(Id, 1).

req(Seq, Req, none) -> {Seq, term_to_binary(Req), <<>>};
req(Seq, Req, Exp) -> {Seq, term_to_binary(Req), term_to_binary(Exp)}.

%% Collects N replies (events stay in the mailbox).
replies(_, 0) -> [];
replies(Id, N) ->
    receive {petri_live_out, Id, {replies, Rs}} -> Rs ++ replies(Id, N - length(Rs))
    after 5000 -> error({missing_replies, N})
    end.

status([{_, St, _, _, _, _, _, _}]) -> St.
version([{_, _, _, V, _, _, _, _}]) -> V.

%% The value the individual answers with: the counter, read by `get` with
%% the expectation as the probe (correct = 1 when it matches).
value_is(K, Id, Seq, V) ->
    [{Seq, ok, Correct, _, _, _, _, _}] = ask(K, Id, Seq, get, V),
    Correct =:= 1.

stop(K) -> K ! stop.

upgrade_keeps_state_test() ->
    K = start(1, ?PARENT),
    [ask(K, 1, S, inc) || S <- lists:seq(1, 5)],
    K ! {upgrade, 7, child(?INC, <<>>), 2},
    #{kind := upgrade, upgrade_id := 7, state_before := B, state_after := A,
      from_hash := F, to_hash := T} = event(1),
    ?assertEqual(B, A),
    ?assertNotEqual(F, T),
    ?assert(value_is(K, 1, 6, 5)),
    ?assertEqual([{7, ok}], [{element(1, hd(R)), status(R)} || R <- [ask(K, 1, 7, inc)]]),
    #{kind := promoted, snapshot := Snap, version := 2} = event(1),
    ?assertEqual(6, binary_to_term(Snap)),
    stop(K).

code_change_applied_test() ->
    K = start(2, ?PARENT),
    [ask(K, 2, S, inc) || S <- lists:seq(1, 3)],
    K ! {upgrade, 1, child(?INC, <<"code_change(1, S) -> S * 10.\n">>), 2},
    #{kind := upgrade, state_before := B, state_after := A} = event(2),
    ?assertNotEqual(B, A),
    ?assert(value_is(K, 2, 4, 30)),
    ?assertEqual(2, version(ask(K, 2, 5, inc))),
    #{kind := promoted} = event(2),
    stop(K).

rollback_on_code_change_crash_test() ->
    K = start(3, ?PARENT),
    [ask(K, 3, S, inc) || S <- lists:seq(1, 4)],
    K ! {upgrade, 1, child(?INC, <<"code_change(_, S) -> element(3, {S}).\n">>), 2},
    #{kind := rollback, reason := Why, version := 1, state_before := B, state_after := A} = event(3),
    ?assertMatch({_, _}, binary:match(Why, <<"code_change">>)),
    ?assertEqual(B, A),
    %% the parent answers, with its state
    ?assert(value_is(K, 3, 5, 4)),
    stop(K).

rollback_on_handle_crash_test() ->
    K = start(4, ?PARENT),
    [ask(K, 4, S, inc) || S <- lists:seq(1, 2)],
    K ! {upgrade, 1, child("handle(inc, _) -> erlang:error(boom);\nhandle(get, S) -> {S, S}.\n",
                           <<>>), 5},
    #{kind := upgrade} = event(4),
    %% the request that fails the child is answered by the parent
    R = ask(K, 4, 3, inc),
    ?assertEqual(ok, status(R)),
    ?assertEqual(1, version(R)),
    #{kind := rollback, reason := Why, probation := 0} = event(4),
    ?assertMatch({_, _}, binary:match(Why, <<"boom">>)),
    ?assert(value_is(K, 4, 4, 3)),
    stop(K).

rollback_on_timeout_test() ->
    K = start(5, ?PARENT),
    K ! {upgrade, 1, child("handle(inc, S) -> spin(S);\nhandle(get, S) -> {S, S}.\n"
                           "spin(S) -> spin(S + 1) - 1.\n", <<>>), 5},
    #{kind := upgrade} = event(5),
    ?assertEqual([{1, ok, 2, 1}], [{element(1, X), element(2, X), element(3, X), element(4, X)}
                                   || X <- ask(K, 5, 1, inc)]),
    #{kind := rollback, reason := Why} = event(5),
    ?assertMatch({_, _}, re:run(Why, "timeout|heap_limit")),
    ?assert(value_is(K, 5, 2, 1)),
    stop(K).

rollback_on_bad_state_test() ->
    K = start(6, ?PARENT, #{state_words => 100}),
    K ! {upgrade, 1, child("handle(inc, S) -> {S, lists:seq(1, 1000)};\nhandle(get, S) -> {S, S}.\n",
                           <<>>), 5},
    #{kind := upgrade} = event(6),
    ?assertEqual(ok, status(ask(K, 6, 1, inc))),
    #{kind := rollback, reason := Why} = event(6),
    ?assertMatch({_, _}, binary:match(Why, <<"over the cap">>)),
    ?assert(value_is(K, 6, 2, 1)),
    stop(K).

rollback_on_garbage_from_code_change_test() ->
    K = start(7, ?PARENT),
    ask(K, 7, 1, inc),
    K ! {upgrade, 1, child(?INC, <<"code_change(_, _) -> garbage.\n">>), 5},
    #{kind := upgrade} = event(7),
    %% garbage + 1 crashes in the child: the parent answers with its state
    ?assertEqual([{2, ok, 2}], [{element(1, X), element(2, X), element(3, X)}
                                || X <- ask(K, 7, 2, inc)]),
    #{kind := rollback} = event(7),
    ?assert(value_is(K, 7, 3, 2)),
    stop(K).

rollback_on_worse_score_test() ->
    K = start(8, ?PARENT),
    [ask(K, 8, S, inc, S) || S <- lists:seq(1, 5)],
    K ! {upgrade, 1, child("handle(inc, S) -> {0, S + 1};\nhandle(get, S) -> {S, S}.\n", <<>>), 3},
    #{kind := upgrade} = event(8),
    [ask(K, 8, S, inc, S) || S <- lists:seq(6, 8)],
    #{kind := rollback, reason := Why, parent_score := P, child_score := C, probation := 3} = event(8),
    ?assertMatch({_, _}, binary:match(Why, <<"parent">>)),
    ?assert(C < P),
    %% the probation's requests were replayed on the parent: 5 + 3
    ?assert(value_is(K, 8, 9, 8)),
    stop(K).

%% judge false (an operator's pin): a child that scores worse is promoted
%% all the same; judge true (the 5-tuple's default) rolls it back.
judge_off_promotes_worse_child_test() ->
    K = start(40, ?PARENT),
    [ask(K, 40, S, inc, S) || S <- lists:seq(1, 5)],
    K ! {upgrade, 1, child("handle(inc, S) -> {0, S + 1};\nhandle(get, S) -> {S, S}.\n", <<>>), 3,
         false},
    #{kind := upgrade} = event(40),
    [ask(K, 40, S, inc, S) || S <- lists:seq(6, 8)],
    #{kind := promoted, parent_score := P, child_score := C, version := 2} = event(40),
    ?assert(C < P),
    ?assertEqual(2, version(ask(K, 40, 9, get))),
    stop(K).

judge_on_rolls_back_worse_child_test() ->
    K = start(41, ?PARENT),
    [ask(K, 41, S, inc, S) || S <- lists:seq(1, 5)],
    K ! {upgrade, 1, child("handle(inc, S) -> {0, S + 1};\nhandle(get, S) -> {S, S}.\n", <<>>), 3,
         true},
    #{kind := upgrade} = event(41),
    [ask(K, 41, S, inc, S) || S <- lists:seq(6, 8)],
    #{kind := rollback, version := 1} = event(41),
    stop(K).

%% judge false still rolls back a child that crashes.
judge_off_still_rolls_back_a_crash_test() ->
    K = start(42, ?PARENT),
    K ! {upgrade, 1, child("handle(inc, _) -> erlang:error(boom);\nhandle(get, S) -> {S, S}.\n",
                           <<>>), 5, false},
    #{kind := upgrade} = event(42),
    ?assertEqual(ok, status(ask(K, 42, 1, inc))),
    #{kind := rollback, version := 1} = event(42),
    stop(K).

%% An Elixir live genome (language 1): it starts, is upgraded by an Elixir
%% child whose code_change/2 sees the parent's state, and is promoted.
-define(ELIXIR_EBIN, "/usr/lib/elixir/lib/elixir/ebin").
-define(EX_PARENT, <<"defmodule Counter do\n  def init(n), do: n\n"
                     "  def handle(:inc, s), do: {s + 1, s + 1}\n"
                     "  def handle(:get, s), do: {s, s}\nend\n">>).
-define(EX_CHILD, <<"defmodule Counter do\n  def init(n), do: n\n"
                    "  def handle(:inc, s), do: {s + 2, s + 2}\n"
                    "  def handle(:get, s), do: {s, s}\n"
                    "  def code_change(1, s), do: s * 10\nend\n">>).

elixir_live_test_() ->
    _ = filelib:is_dir(?ELIXIR_EBIN) andalso code:add_pathz(?ELIXIR_EBIN),
    case petri_elixir:available() of
        false ->
            [fun elixir_absent/0];
        true ->
            [{timeout, 120, fun elixir_upgrade_keeps_state/0},
             {timeout, 120, fun elixir_example_limits/0}]
    end.

elixir_absent() ->
    K = petri_live:start(opts(43, ?EX_PARENT, #{language => 1})),
    #{kind := failed, reason := Why} = event(43),
    ?assertMatch({_, _}, binary:match(Why, <<"elixir">>)),
    K.

elixir_upgrade_keeps_state() ->
    K = start(44, ?EX_PARENT, #{language => 1}),
    [ask(K, 44, S, inc) || S <- lists:seq(1, 3)],
    K ! {upgrade, 1, ?EX_CHILD, 2},
    #{kind := upgrade, state_before := B, state_after := A} = event(44),
    ?assertNotEqual(B, A),
    ?assert(value_is(K, 44, 4, 30)),
    [{5, ok, _, 2, _, _, _, _}] = ask(K, 44, 5, inc),
    #{kind := promoted, version := 2, snapshot := Snap} = event(44),
    ?assertEqual(32, binary_to_term(Snap)),
    %% an Erlang child is not an Elixir module: refused, the Elixir one runs on
    K ! {upgrade, 2, ?PARENT, 1},
    #{kind := refused} = event(44),
    ?assert(value_is(K, 44, 6, 32)),
    stop(K).

%% configs/live/ratelimit.ex answers as parent.erl does.
elixir_example_limits() ->
    {ok, Src} = file:read_file(example("ratelimit.ex")),
    _ = [binary_to_atom(A, utf8) || A <- [<<"hit">>, <<"allow">>, <<"deny">>]],
    K = start(45, Src, #{language => 1, init_arg => term_to_binary(#{})}),
    Got = [begin
               [{S, ok, C, _, _, _, _, _}] = ask(K, 45, S, {hit, 8, 2500}, allow),
               C
           end || S <- lists:seq(1, 6)],
    ?assertEqual([1, 1, 1, 1, 1, 0], Got),
    stop(K).

example(Name) ->
    Here = filename:dirname(code:which(?MODULE)),
    hd([P || P <- [filename:join(["configs", "live", Name]),
                   filename:join([Here, "..", "..", "configs", "live", Name])],
             filelib:is_file(P)] ++ [Name]).

refused_child_test() ->
    K = start(9, ?PARENT),
    K ! {upgrade, 1, <<"-module(c).\n-export([handle/2]).\nhandle(A, B) -> {A, B}.\n">>, 1},
    #{kind := refused, reason := Why} = event(9),
    ?assertMatch({_, _}, binary:match(Why, <<"init/1">>)),
    K ! {upgrade, 2, <<"-module(c).\n-export([init/1, handle/2]).\ninit(_) -> 0.\n"
                       "handle(_, S) -> {erlang:halt(), S}.\n">>, 1},
    #{kind := refused, reason := Why2} = event(9),
    ?assertMatch({_, _}, binary:match(Why2, <<"not allowed">>)),
    ?assertEqual(ok, status(ask(K, 9, 1, inc))),
    stop(K).

limits_per_request_test() ->
    Src = <<"-module(c).\n-export([init/1, handle/2]).\ninit(N) -> N.\n"
            "handle(spin, S) -> {spin(S), S};\n"
            "handle(grow, S) -> {ok, lists:seq(1, 100000)};\n"
            "handle(burn, S) -> {count(300000), S};\n"
            "handle(inc, S) -> {S + 1, S + 1};\nhandle(get, S) -> {S, S}.\n"
            "spin(S) -> spin(S + 1) - 1.\n"
            "count(0) -> 0;\ncount(N) -> count(N - 1).\n">>,
    K = start(10, Src, #{reductions => 100000, state_words => 1000}),
    ask(K, 10, 1, inc),
    ?assertEqual(timeout, status(ask(K, 10, 2, burn))),
    ?assertEqual(bad_result, status(ask(K, 10, 3, grow))),
    %% the state survived both: the worker kept the old one
    ?assert(value_is(K, 10, 4, 1)),
    ?assertMatch(St when St =:= timeout; St =:= heap_limit, status(ask(K, 10, 5, spin))),
    %% killed: the worker starts again from the last good snapshot (state 0)
    #{kind := restarted} = event(10),
    ?assert(value_is(K, 10, 6, 0)),
    stop(K).

heap_limit_per_request_test() ->
    Src = <<"-module(c).\n-export([init/1, handle/2]).\ninit(N) -> N.\n"
            "handle(bomb, S) -> {length(lists:seq(1, 1000000)), S};\n"
            "handle(get, S) -> {S, S}.\n">>,
    K = start(14, Src, #{heap_words => 200000, init_arg => term_to_binary(7)}),
    ?assertEqual(heap_limit, status(ask(K, 14, 1, bomb))),
    %% killed by the watchdog (restarted from the snapshot) or refused at the
    %% end (state kept): the state is 7 either way
    ?assert(value_is(K, 14, 2, 7)),
    stop(K).

bytes_that_are_not_terms_test() ->
    K = start(15, ?PARENT),
    K ! {requests, [{1, <<"garbage">>, <<>>}, {2, term_to_binary(inc), <<1, 2, 3>>}]},
    ?assertEqual([{1, bad_result}, {2, bad_result}],
                 [{element(1, R), element(2, R)} || R <- replies(15, 2)]),
    %% the genome was not called
    ?assert(value_is(K, 15, 3, 0)),
    stop(K).

bad_init_test() ->
    K = petri_live:start(opts(11, <<"-module(c).\n-export([init/1, handle/2]).\n"
                                     "init(N) -> 1 / N.\nhandle(_, S) -> {S, S}.\n">>)),
    #{kind := failed, reason := Why} = event(11),
    ?assertMatch({_, _}, binary:match(Why, <<"init">>)),
    ?assertNot(is_process_alive(K) andalso (timer:sleep(50) =:= ok) andalso is_process_alive(K)).

snapshot_restart_test() ->
    K = petri_live:start(opts(12, ?PARENT, #{snapshot => term_to_binary(41), version => 3,
                                             next_version => 7})),
    #{kind := started, version := 3, snapshot := S} = event(12),
    ?assertEqual(41, binary_to_term(S)),
    ?assertEqual([{1, ok, 1, 3}], [{element(1, X), element(2, X), element(3, X), element(4, X)}
                                   || X <- ask(K, 12, 1, inc, 42)]),
    %% the numbers a dead VM gave out are skipped
    K ! {upgrade, 1, child(?INC, <<>>), 1},
    #{kind := upgrade, version := 7} = event(12),
    stop(K).

%% 200 upgrades, 30% of them bad in one of three ways, requests streaming in
%% batches meanwhile: every request answered once, in order.
many_upgrades_none_lost_test_() ->
    {timeout, 120, fun many_upgrades/0}.

many_upgrades() ->
    rand:seed(exsss, {1, 2, 3}),
    Id = 13,
    K = start(Id, ?PARENT, #{probation => 2}),
    Bad = [child("handle(inc, _) -> erlang:error(bad);\nhandle(get, S) -> {S, S}.\n", <<>>),
           child(?INC, <<"code_change(_, _) -> element(2, {}).\n">>),
           child("handle(inc, S) -> {S + 1, lists:seq(1, 100000)};\nhandle(get, S) -> {S, S}.\n",
                 <<>>)],
    Good = child(?INC, <<"code_change(_, S) -> S.\n">>),
    {Seq, NBad} = lists:foldl(
                    fun(U, {S, NB}) ->
                            N = rand:uniform(4),
                            K ! {requests, [req(S + I, inc, none) || I <- lists:seq(1, N)]},
                            IsBad = rand:uniform() < 0.3,
                            Src = case IsBad of
                                      true -> lists:nth(rand:uniform(3), Bad);
                                      false -> Good
                                  end,
                            K ! {upgrade, U, Src, 0},
                            {S + N, NB + case IsBad of true -> 1; false -> 0 end}
                    end, {0, 0}, lists:seq(1, 200)),
    K ! {requests, [req(Seq + I, inc, none) || I <- lists:seq(1, 5)]},
    Total = Seq + 5,
    Rs = replies(Id, Total),
    ?assertEqual(lists:seq(1, Total), [element(1, R) || R <- Rs]),
    ?assertEqual([ok], lists:usort([element(2, R) || R <- Rs])),
    %% more requests, so that every upgrade still waiting gets its probation
    K ! {requests, [req(Total + I, inc, none) || I <- lists:seq(1, 1000)]},
    Rs2 = replies(Id, 1000),
    ?assertEqual(lists:seq(Total + 1, Total + 1000), [element(1, R) || R <- Rs2]),
    Events = drain_events(Id),
    ?assert(NBad > 40),
    ?assertEqual(NBad, length([E || #{kind := rollback} = E <- Events])),
    ?assertEqual(200 - NBad, length([E || #{kind := promoted} = E <- Events])),
    stop(K).

drain_events(Id) ->
    receive {petri_live_out, Id, {event, E}} -> [E | drain_events(Id)]
    after 200 -> []
    end.

%% ---- the LIVE_* messages (petri_wire) and their routing (petri_node) ----

wire_round_trip_test() ->
    Start = #{live_id => 1, version => 2, timeout_ms => 100, heap_words => 1000,
              reductions => 2000, state_words => 300, probation => 40, window => 50,
              lat_w => 0.25, red_w => 0.5, tolerance => 0.125, atoms => [<<"hit">>],
              init_arg => term_to_binary(#{}), source => <<"src">>, snapshot => <<>>,
              next_version => 9, language => 1},
    Ev = #{kind => promoted, upgrade_id => 3, version => 2, at_seq => 99,
           from_hash => <<"a">>, to_hash => <<"b">>, state_before => <<"c">>,
           state_after => <<"d">>, parent_score => 0.5, child_score => nan, probation => 4,
           reason => <<"why">>, snapshot => <<131, 106>>, took_us => 1234},
    Msgs = [{live_start, Start},
            {live_requests, 1, [{1, <<131, 106>>, <<>>}, {2, <<131, 97, 1>>, <<131, 97, 2>>}]},
            {live_replies, 1, [{1, ok, 1, 2, 10, 5, 300, 0.75}, {2, timeout, 0, 2, 9, 9, 0, 0.0}]},
            {live_upgrade, 1, 7, 0, <<"child">>, 0},
            {live_upgrade, 1, 8, 3, <<"child">>, 1},
            {live_event, 1, Ev},
            {live_stop, 1}],
    [?assertEqual({ok, M}, petri_wire:decode(petri_wire:encode(M))) || M <- Msgs].

wire_refuses_bad_live_frames_test() ->
    <<H:24/binary, _/binary>> = petri_wire:encode({live_stop, 1}),
    Frame = fun(Type, P) ->
                    <<V:8, _:16, Rest:21/binary>> = H,
                    <<Pre:17/binary, _:32>> = Rest,
                    <<V:8, Type:16, Pre/binary, (byte_size(P)):32, P/binary>>
            end,
    %% an event kind past the enum
    ?assertMatch({error, {bad_live_kind, 8}}, petri_wire:decode(Frame(15, <<1:64, 8:8, 0:200>>))),
    %% a batch over WIRE_LIVE_MAX_BATCH
    ?assertMatch({error, {batch_too_big, 4097}},
                 petri_wire:decode(Frame(12, <<1:64, 4097:32, 0:(16 * 4097 * 8)>>))),
    %% a request list that claims more than its bytes hold
    ?assertEqual({error, truncated}, petri_wire:decode(Frame(12, <<1:64, 3:32, 0:64>>))),
    ?assertEqual({error, truncated}, petri_wire:decode(Frame(11, <<1:64>>))).

node_routes_live_frames_test() ->
    St = petri_node:init_state(#{slots => 2, elixir => false}),
    Up = petri_wire:encode({live_upgrade, 4, 1, 0, <<"c">>}),
    ?assertMatch({[], [{live, 4, {upgrade, 1, <<"c">>, 0, true}}], _},
                 petri_node:handle_frame(Up, St)),
    Pin = petri_wire:encode({live_upgrade, 4, 2, 0, <<"c">>, 0}),
    ?assertMatch({[], [{live, 4, {upgrade, 2, <<"c">>, 0, false}}], _},
                 petri_node:handle_frame(Pin, St)),
    Rq = petri_wire:encode({live_requests, 4, [{1, <<131, 106>>, <<>>}]}),
    ?assertMatch({[], [{live, 4, {requests, [{1, _, <<>>}]}}], _}, petri_node:handle_frame(Rq, St)),
    Stop = petri_wire:encode({live_stop, 4}),
    ?assertMatch({[], [{live, 4, stop}], _}, petri_node:handle_frame(Stop, St)).
