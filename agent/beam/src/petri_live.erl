%% petri_live - a live individual: a genome module that keeps its state
%% between requests in a long-lived process, is upgraded in place by the
%% BEAM's two-version code loading, and rolls back to its parent when a child
%% fails its probation.
%%
%% The genome exports init(Arg) -> State, handle(Request, State) ->
%% {Reply, NewState} and optionally code_change(FromVersion, State) ->
%% NewState (FromVersion: the parent's version number). It is loaded through
%% petri_loader (the same parse caps, allowlist and compiler as any genome),
%% as Erlang or, with language 1, as Elixir (the genome and every upgrade).
%% An upgrade with judge false (an operator's pin) is not compared with its
%% parent's score: only a crash, a timeout or a broken state rolls it back.
%%
%% Two processes per individual:
%%   keeper  the control loop (start/1): owns the module, the parent's code
%%           and state snapshot, the probation and the request queue; never
%%           runs genome code.
%%   worker  holds the state; runs init, handle and code_change, one at a
%%           time, with fully qualified calls (Mod:handle/2), so after a load
%%           it runs the new version from its next request on.
%%
%%   upgrade:  snapshot parent state -> load child (parent becomes old code)
%%             -> code_change in the worker -> probation (N requests)
%%   probation ends:  the parent judged on the same requests: its binary
%%                    loaded again, its snapshot restored and the
%%                    probation's requests replayed on it, scored, replies
%%                    dropped (a paired comparison: both versions answer
%%                    the same requests from their own states)
%%                    child not worse -> its binary and state back, promote
%%                    (purge the parent's code, snapshot, event with bytes)
%%                    worse -> the parent stays, with the replayed state
%%                    (rollback); any failure on probation -> rollback (load
%%                    the parent's binary, state := snapshot, the
%%                    probation's requests replayed on it without replies)
%%
%% Invariants:
%%  1. Every request gets exactly one reply, in arrival order. A request
%%     that fails a child on probation is answered by the parent after the
%%     rollback. Requests that arrive during an upgrade wait in the keeper's
%%     mailbox; nothing is dropped.
%%  2. Each request runs under the limits: wall time and heap are watched by
%%     the keeper every ?POLL_MS (the worker is killed past them); the
%%     reduction budget, the heap once more and the state cap
%%     (erts_debug:flat_size, words) are checked by the worker before it
%%     keeps the new state: a request over them leaves the state as it was.
%%  3. Genome code only ever runs in the worker; the keeper purges old code
%%     only while the worker waits between requests, in petri_live's code.
%%  4. Upgrades that arrive while a child is on probation wait for the end of
%%     that probation, in order.
%%  5. Output goes to Out as {petri_live_out, Id, {replies, [reply()]}} or
%%     {petri_live_out, Id, {event, event()}}.
-module(petri_live).

-export([start/1, keeper/1, worker/3, worker_loop/3, loader_spec/1, hash/1, state_hash/1, score/4]).
-export_type([opts/0, reply/0, event/0, request/0]).

-define(POLL_MS, 2).
-define(NET_MIN_WORDS, 4000000).     % as petri_eval: the VM's own heap net
-define(SNAPSHOT_MAX, 1048576).      % bytes of a snapshot sent to the agent
-define(DETAIL_CHARS, 240).
-define(RESTORE_MS, 10000).          % wall time to start a worker from a snapshot

-type request() :: {non_neg_integer(), binary(), binary()}.   % {Seq, ReqETF, ExpectETF | <<>>}
-type status() :: petri_wire:status().
%% {Seq, Status, Correct (0 wrong, 1 right, 2 nothing expected), Version,
%%  LatencyUs (arrival to reply), ServiceUs, Reductions, Score}
-type reply() :: {non_neg_integer(), status(), 0..2, pos_integer(), non_neg_integer(),
                  non_neg_integer(), non_neg_integer(), float()}.
-type event() :: #{kind := started | upgrade | promoted | rollback | refused | restarted
                         | failed | stopped,
                   upgrade_id := non_neg_integer(), version := non_neg_integer(),
                   at_seq := non_neg_integer(), from_hash := binary(), to_hash := binary(),
                   state_before := binary(), state_after := binary(),
                   parent_score := float() | nan, child_score := float() | nan,
                   probation := non_neg_integer(), reason := binary(), snapshot := binary(),
                   took_us := non_neg_integer()}.
-type opts() :: #{id := non_neg_integer(), module := module(), out := pid(),
                  source := binary(), init_arg := binary(), snapshot := binary(),
                  version := pos_integer(), next_version => non_neg_integer(), timeout_ms := pos_integer(),
                  heap_words := pos_integer(), reductions := non_neg_integer(),
                  state_words := pos_integer(), probation := pos_integer(),
                  window := pos_integer(), lat_w := float(), red_w := float(),
                  tolerance := float(), language => 0..255}.
%% The code of one version: {Version, SourceHash, Beam}.
-type code() :: {pos_integer(), binary(), binary()}.
-type trial() :: #{upgrade_id := non_neg_integer(), parent := code(), snapshot := term(),
                   parent_score := float() | nan, scores := [float()],
                   replay := [term()], probation := pos_integer(), before := binary(),
                   after_hash := binary(), judge := boolean()}.
%% The worker's own checks: {ReductionBudget, StateWords, HeapWords}.
-type limits() :: {non_neg_integer(), pos_integer(), pos_integer()}.
%% What a request in the worker ended as.
-type outcome() :: {ok, term(), non_neg_integer()}
                 | {fail, status(), binary(), non_neg_integer()}.

-record(k, {
    o :: opts(),
    worker :: pid(),
    wref :: reference(),                 % its monitor
    tag :: reference(),                  % tags the messages to and from it
    cur :: code(),                       % the version running
    good :: code(),                      % the last good version (cur outside probation)
    good_snap :: term(),                 % its state when it became good
    next_version :: pos_integer(),
    trial = none :: none | trial(),
    pending = [] :: [{non_neg_integer(), binary(), non_neg_integer(), boolean()}], % waiting
    window = [] :: [float()],            % the last scores of cur, newest first
    last_seq = 0 :: non_neg_integer()
}).

%% ---- entry points ---------------------------------------------------------------

%% Starts the keeper: loads the source, runs init (or takes the snapshot
%% bytes as the state), reports `started` or `failed` to Out.
-spec start(opts()) -> pid().
start(Opts) ->
    spawn(?MODULE, keeper, [Opts]).

%% The SPEC map petri_loader needs to load a live genome: handle/2 must be
%% exported, the limits are the individual's.
-spec loader_spec(opts()) -> petri_wire:spec().
loader_spec(O) ->
    #{function => <<"handle">>, arity => 2, language => maps:get(language, O, 0),
      timeout_ms => maps:get(timeout_ms, O), heap_words => maps:get(heap_words, O),
      reductions => maps:get(reductions, O), vars => [], ops => [],
      const_min => 0.0, const_max => 0.0, const_int => false, error => 0, cases => [],
      term_cases => none, atoms => [], float_tol => 0.0, mismatch_error => 1.0,
      evaluator => <<>>, evaluator_lang => 0, cost_mode => 0, cost_w => {0.0, 0.0, 0.0},
      per_case => false}.

-spec keeper(opts()) -> ok.
keeper(#{source := Src, module := Mod, version := V0} = O) ->
    Hash = hash(Src),
    case compile(O, Src) of
        {ok, Bin} ->
            _ = purge(Mod),
            case erlang:load_module(Mod, Bin) of
                {module, Mod} -> boot(O, {V0, Hash, Bin});
                {error, Why} -> failed(O, Hash, fmt("loading failed: ~p", [Why]))
            end;
        {error, _, Detail} ->
            failed(O, Hash, Detail)
    end.

-spec boot(opts(), code()) -> ok.
boot(#{snapshot := Snap, init_arg := ArgBin} = O, {V, Hash, _} = Code) ->
    Init = case Snap of
               <<>> ->
                   case decode(ArgBin) of
                       {ok, Arg} -> {init, Arg};
                       error -> {error, <<"init_arg is not a valid external term">>}
                   end;
               _ ->
                   case decode(Snap) of
                       {ok, S} -> {state, S};
                       error -> {error, <<"snapshot is not a valid external term">>}
                   end
           end,
    case Init of
        {error, D} -> failed(O, Hash, D);
        _ ->
            K0 = #k{o = O, worker = self(), wref = make_ref(), tag = make_ref(), cur = Code,
                    good = Code, good_snap = none,
                    next_version = max(V + 1, maps:get(next_version, O, 0))},
            case start_worker(K0, Init) of
                {ok, K, StateHash} ->
                    K2 = snap_good(K),
                    emit(K2, ev(K2, started, #{to_hash => Hash, state_after => StateHash,
                                              snapshot => snap_bytes(K2#k.good_snap)})),
                    loop(K2);
                {fail, St, D, _} ->
                    failed(O, Hash, fmt("~s in init: ~s", [St, D]))
            end
    end.

-spec failed(opts(), binary(), binary()) -> ok.
failed(#{out := Out, id := Id, version := V}, Hash, Detail) ->
    Out ! {petri_live_out, Id, {event, (blank())#{kind => failed, version => V, to_hash => Hash,
                                                  reason => Detail}}},
    ok.

%% ---- the keeper's loop ------------------------------------------------------------

-spec loop(#k{}) -> ok.
loop(K) ->
    receive
        {requests, Reqs} ->
            T = erlang:monotonic_time(microsecond),
            {Replies, K2} = requests(Reqs, T, K, []),
            emit_replies(K2, Replies),
            loop(K2);
        {upgrade, UpId, Src, Prob} ->
            loop(upgrade_or_queue(K, UpId, Src, Prob, true));
        {upgrade, UpId, Src, Prob, Judge} ->
            loop(upgrade_or_queue(K, UpId, Src, Prob, Judge =:= true));
        stop ->
            emit(K, ev(K, stopped, #{})),
            exit(K#k.worker, kill),
            ok;
        {'DOWN', MRef, process, _, Why} when MRef =:= K#k.wref ->
            %% the worker died between requests (it never should)
            loop(restart(K, fmt("worker died: ~0P", [Why, 8])));
        _ ->
            loop(K)
    end.

-spec requests([request()], integer(), #k{}, [reply()]) -> {[reply()], #k{}}.
requests([], _, K, Acc) ->
    {lists:reverse(Acc), K};
requests([{Seq, ReqB, ExpB} | T], Arrived, K, Acc) ->
    Expect = case ExpB of
                 <<>> -> {ok, none};
                 _ -> case decode(ExpB) of {ok, E} -> {ok, {ok, E}}; error -> error end
             end,
    case {decode(ReqB), Expect} of
        {{ok, Req}, {ok, Exp}} ->
            {R, K2} = one(Seq, Req, Exp, Arrived, K),
            requests(T, Arrived, K2#k{last_seq = Seq}, [R | Acc]);
        _ ->
            %% bytes that are not a term (the agent writes them: never
            %% expected): answered bad_result, the genome not called
            R = reply(K, Seq, bad_result, 0, Arrived, 0, 0),
            requests(T, Arrived, K#k{last_seq = Seq}, [R | Acc])
    end.

%% One request on the running version; a child that fails it is rolled back
%% and the parent answers.
-spec one(non_neg_integer(), term(), none | {ok, term()}, integer(), #k{}) -> {reply(), #k{}}.
one(Seq, Req, Expect, Arrived, K) ->
    T0 = erlang:monotonic_time(microsecond),
    Out = call(K, {req, Req}),
    Svc = erlang:monotonic_time(microsecond) - T0,
    case {Out, K#k.trial} of
        {{ok, Reply, Reds}, _} ->
            Correct = case Expect of
                          none -> 2;
                          {ok, Reply} -> 1;
                          {ok, _} -> 0
                      end,
            R = reply(K, Seq, ok, Correct, Arrived, Svc, Reds),
            {R, scored(K, element(8, R), {Req, Expect})};
        {{fail, St, D, _}, none} ->
            R = reply(K, Seq, St, 0, Arrived, Svc, 0),
            K2 = case is_process_alive(K#k.worker) of
                     true -> K;
                     false -> restart(K, fmt("~s: ~s", [St, D]))
                 end,
            {R, scored(K2, element(8, R), none)};
        {{fail, St, D, _}, _Trial} ->
            K2 = rollback(K, fmt("~s in handle: ~s", [St, D])),
            one(Seq, Req, Expect, Arrived, K2)
    end.

%% Records a score; during probation, ends it when the window is full.
-spec scored(#k{}, float(), term()) -> #k{}.
scored(#k{trial = none, window = Win, o = #{window := N}} = K, Score, _) ->
    K#k{window = lists:sublist([Score | Win], N)};
scored(#k{trial = #{scores := Sc, replay := Rp, probation := P} = Tr} = K, Score, Req) ->
    Sc2 = [Score | Sc],
    K2 = K#k{trial = Tr#{scores := Sc2, replay := [Req | Rp]}},   % Req: {Request, Expect}
    case length(Sc2) >= P of
        false -> K2;
        true -> judge(K2)
    end.

-spec judge(#k{}) -> #k{}.
judge(#k{trial = #{judge := false}} = K) ->
    promote(K);
judge(#k{trial = #{scores := Sc, parent := {_, _, PBin} = Parent, snapshot := Snap,
                   replay := Replay} = Tr,
         cur = {_, _, CBin} = Child, o = #{tolerance := Tol}} = K) ->
    T0 = now_us(),
    CS = mean(Sc),
    {ok, ChildState} = get_state(K),
    %% the parent on the same requests, from the state it had
    K1 = restore(load(kill_worker(K), PBin), Snap),
    {PScores, K2} = shadow(K1#k{cur = Parent}, lists:reverse(Replay), Snap, []),
    PS = case PScores of [] -> nan; _ -> mean(PScores) end,
    case PS =/= nan andalso CS < PS - Tol of
        true ->
            rolled_back(K2#k{trial = Tr#{parent_score := PS}, cur = Child}, PScores,
                        fmt("scored ~.4f over probation, parent ~.4f on the same requests",
                            [CS, PS]), T0);
        false ->
            K3 = restore(load(kill_worker(K2), CBin), ChildState),
            promote(K3#k{cur = Child, trial = Tr#{parent_score := PS}}, T0)
    end.

%% Loads Bin as the module's code, nothing old left (the worker is dead or
%% waits between requests in petri_live's code: invariant 3).
-spec load(#k{}, binary()) -> #k{}.
load(K, Bin) ->
    Mod = mod(K),
    _ = purge(Mod),
    {module, Mod} = erlang:load_module(Mod, Bin),
    _ = purge(Mod),
    K.

%% Runs requests on the version loaded, scoring each against its expected
%% reply; the replies go nowhere. A request that kills the worker scores 0
%% and the state goes back to Snap.
-spec shadow(#k{}, [{term(), none | {ok, term()}} | none], term(), [float()]) ->
          {[float()], #k{}}.
shadow(K, [], _, Acc) ->
    {Acc, K};
shadow(K, [none | T], Snap, Acc) ->
    shadow(K, T, Snap, Acc);
shadow(K, [{Req, Expect} | T], Snap, Acc) ->
    T0 = now_us(),
    Out = call(K, {req, Req}),
    Svc = now_us() - T0,
    {Score, K2} = case Out of
                      {ok, Reply, Reds} ->
                          Correct = case Expect of
                                        none -> 2;
                                        {ok, Reply} -> 1;
                                        {ok, _} -> 0
                                    end,
                          {element(8, reply(K, 0, ok, Correct, T0, Svc, Reds)), K};
                      {fail, _, _, _} ->
                          case is_process_alive(K#k.worker) of
                              true -> {0.0, K};
                              false -> {0.0, restore(kill_worker(K), Snap)}
                          end
                  end,
    shadow(K2, T, Snap, [Score | Acc]).

%% ---- upgrade, promotion, rollback -------------------------------------------------

-spec upgrade_or_queue(#k{}, non_neg_integer(), binary(), non_neg_integer(), boolean()) -> #k{}.
upgrade_or_queue(#k{trial = none} = K, UpId, Src, Prob, Judge) ->
    upgrade(K, UpId, Src, Prob, Judge);
upgrade_or_queue(#k{pending = P} = K, UpId, Src, Prob, Judge) ->
    K#k{pending = P ++ [{UpId, Src, Prob, Judge}]}.

-spec next_pending(#k{}) -> #k{}.
next_pending(#k{pending = [{UpId, Src, Prob, Judge} | T], trial = none} = K) ->
    upgrade(K#k{pending = T}, UpId, Src, Prob, Judge);
next_pending(K) ->
    K.

-spec upgrade(#k{}, non_neg_integer(), binary(), non_neg_integer(), boolean()) -> #k{}.
upgrade(#k{o = #{module := Mod} = O, cur = {PV, PHash, _} = Parent} = K, UpId, Src, Prob0,
        Judge) ->
    T0 = now_us(),
    Hash = hash(Src),
    V = K#k.next_version,
    K1 = K#k{next_version = V + 1},
    Prob = case Prob0 of 0 -> maps:get(probation, O); _ -> Prob0 end,
    case compile(O, Src) of
        {error, St, D} ->
            emit(K1, ev(K1, refused, #{upgrade_id => UpId, from_hash => PHash, to_hash => Hash,
                                       reason => fmt("~s: ~s", [St, D]),
                                       took_us => now_us() - T0})),
            next_pending(K1);
        {ok, Bin} ->
            {ok, Snap} = get_state(K1),
            Before = state_hash(Snap),
            _ = purge(Mod),
            {module, Mod} = erlang:load_module(Mod, Bin),
            Trial = #{upgrade_id => UpId, parent => Parent, snapshot => Snap,
                      parent_score => case K1#k.window of [] -> nan; Win -> mean(Win) end,
                      scores => [], replay => [], probation => Prob, before => Before,
                      after_hash => <<>>, judge => Judge},
            K2 = K1#k{cur = {V, Hash, Bin}, trial = Trial, window = []},
            case call(K2, {code_change, PV}) of
                {ok, After, _} ->
                    K3 = K2#k{trial = Trial#{after_hash := After}},
                    emit(K3, ev(K3, upgrade, #{upgrade_id => UpId, from_hash => PHash,
                                               to_hash => Hash, state_before => Before,
                                               state_after => After, probation => Prob,
                                               took_us => now_us() - T0})),
                    K3;
                {fail, St, D, _} ->
                    rollback(K2, fmt("~s in code_change: ~s", [St, D]))
            end
    end.

-spec promote(#k{}) -> #k{}.
promote(K) ->
    promote(K, now_us()).

%% T0: when the judging began (the event's took_us covers the paired replay).
-spec promote(#k{}, integer()) -> #k{}.
promote(#k{trial = #{upgrade_id := UpId, parent := {_, PHash, _}, before := Before,
                     parent_score := PS, scores := Sc}, cur = {_, Hash, _}} = K, T0) ->
    _ = purge(mod(K)),
    K2 = snap_good(K#k{good = K#k.cur, trial = none, window = Sc}),
    emit(K2, ev(K2, promoted, #{upgrade_id => UpId, from_hash => PHash, to_hash => Hash,
                                state_before => Before,
                                state_after => state_hash(K2#k.good_snap),
                                parent_score => PS, child_score => mean(Sc),
                                probation => length(Sc),
                                snapshot => snap_bytes(K2#k.good_snap),
                                took_us => now_us() - T0})),
    next_pending(K2).

%% Back to the parent's code and its snapshot, with the probation's requests
%% replayed on it (their replies were sent already).
-spec rollback(#k{}, binary()) -> #k{}.
rollback(#k{trial = #{upgrade_id := UpId, parent := {_, PHash, PBin} = Parent,
                      snapshot := Snap, parent_score := PS, scores := Sc,
                      replay := Replay, before := Before},
            cur = {_, Hash, _}} = K, Reason) ->
    T0 = now_us(),
    Mod = mod(K),
    K1 = kill_worker(K),
    _ = purge(Mod),
    {module, Mod} = erlang:load_module(Mod, PBin),
    _ = purge(Mod),
    K2 = restore(K1#k{cur = Parent, trial = none}, Snap),
    K3 = replay(K2, lists:reverse(Replay), Snap),
    {ok, Now} = get_state(K3),
    emit(K3, ev(K3, rollback, #{upgrade_id => UpId, from_hash => PHash, to_hash => Hash,
                                state_before => Before, state_after => state_hash(Now),
                                parent_score => PS,
                                child_score => case Sc of [] -> nan; _ -> mean(Sc) end,
                                probation => length(Sc), reason => Reason,
                                took_us => now_us() - T0})),
    next_pending(K3#k{window = []}).

%% The parent already runs again with its replayed state (judge/1): the
%% rollback's event. Its window is its scores on the probation's requests.
-spec rolled_back(#k{}, [float()], binary(), integer()) -> #k{}.
rolled_back(#k{trial = #{upgrade_id := UpId, parent := {_, PHash, _} = Parent,
                         parent_score := PS, scores := Sc, before := Before},
               cur = {_, Hash, _}} = K, PScores, Reason, T0) ->
    K2 = K#k{cur = Parent, trial = none},
    {ok, Now} = get_state(K2),
    emit(K2, ev(K2, rollback, #{upgrade_id => UpId, from_hash => PHash, to_hash => Hash,
                                state_before => Before, state_after => state_hash(Now),
                                parent_score => PS, child_score => mean(Sc),
                                probation => length(Sc), reason => Reason,
                                took_us => now_us() - T0})),
    next_pending(K2#k{window = PScores}).

%% Runs the probation's requests again on the parent, replies dropped. If
%% one kills the worker, the parent stays at the snapshot.
-spec replay(#k{}, [term()], term()) -> #k{}.
replay(K, [], _) ->
    K;
replay(K, [none | T], Snap) ->
    replay(K, T, Snap);
replay(K, [{Req, _Expect} | T], Snap) ->
    _ = call(K, {req, Req}),
    case is_process_alive(K#k.worker) of
        true -> replay(K, T, Snap);
        false -> restore(kill_worker(K), Snap)
    end.

%% A new worker holding State (no genome code runs: the wall-time limit is
%% ?RESTORE_MS, not the genome's). The keeper gives up if even that fails.
-spec restore(#k{}, term()) -> #k{}.
restore(K, State) ->
    case start_worker(K, {state, State}) of
        {ok, K2, _} -> K2;
        Fail -> exit({cannot_restore_state, Fail})
    end.

%% The worker was killed outside probation: the current version starts again
%% from the last good snapshot.
-spec restart(#k{}, binary()) -> #k{}.
restart(K, Reason) ->
    K2 = restart_quiet(K),
    emit(K2, ev(K2, restarted, #{to_hash => element(2, K2#k.cur),
                                 state_after => state_hash(K2#k.good_snap), reason => Reason})),
    K2.

-spec restart_quiet(#k{}) -> #k{}.
restart_quiet(K) ->
    restore(kill_worker(K), K#k.good_snap).

-spec snap_good(#k{}) -> #k{}.
snap_good(K) ->
    {ok, S} = get_state(K),
    K#k{good_snap = S}.

-spec kill_worker(#k{}) -> #k{}.
kill_worker(#k{worker = W, wref = Ref} = K) ->
    erlang:demonitor(Ref, [flush]),
    exit(W, kill),
    K.

%% ---- talking to the worker ----------------------------------------------------------

%% Starts a worker on Init and waits for it: {ok, K with it} or the failure.
-spec start_worker(#k{}, {init, term()} | {state, term()}) -> {ok, #k{}, binary()} | outcome().
start_worker(#k{o = #{module := Mod, heap_words := Heap} = O} = K, Init) ->
    Net = max(2 * Heap, ?NET_MIN_WORDS),
    Tag = make_ref(),
    Limits = {maps:get(reductions, O), maps:get(state_words, O), Heap},
    {W, MRef} = spawn_opt(?MODULE, worker, [self(), Mod, {Tag, Init, Limits}],
                          [monitor, {max_heap_size, #{size => Net, kill => true,
                                                      error_logger => false}}]),
    K2 = K#k{worker = W, wref = MRef, tag = Tag},
    Deadline = case Init of
                   {init, _} -> maps:get(timeout_ms, O);
                   {state, _} -> max(maps:get(timeout_ms, O), ?RESTORE_MS)
               end,
    case watch(K2, erlang:monotonic_time(microsecond), Deadline) of
        {ok, StateHash, _} -> {ok, K2, StateHash};
        Fail -> Fail
    end.

-spec call(#k{}, {req, term()} | {code_change, pos_integer()}) -> outcome().
call(#k{worker = W, tag = Tag} = K, Msg) ->
    W ! {Tag, Msg},
    watch(K, erlang:monotonic_time(microsecond), maps:get(timeout_ms, K#k.o)).

-spec get_state(#k{}) -> {ok, term()}.
get_state(#k{worker = W, wref = MRef, tag = Tag}) ->
    W ! {Tag, get_state},
    receive
        {Tag, state, S} -> {ok, S};
        {'DOWN', MRef, process, _, Why} -> exit({worker_died, Why})
    end.

%% Waits for the worker's answer, killing it past the deadline or the heap.
-spec watch(#k{}, integer(), pos_integer()) -> outcome().
watch(#k{worker = W, wref = MRef, tag = Tag, o = #{heap_words := Heap}} = K, T0, To) ->
    receive
        {Tag, done, Outcome} -> Outcome;
        {'DOWN', MRef, process, _, Why} ->
            {fail, heap_limit, fmt("the worker died: ~0P", [Why, 8]), 0}
    after ?POLL_MS ->
            Over = erlang:monotonic_time(microsecond) - T0 > To * 1000,
            case process_info(W, total_heap_size) of
                _ when Over ->
                    exit(W, kill),
                    {fail, timeout, fmt("wall time of ~b ms exceeded", [To]), 0};
                {total_heap_size, H} when H > Heap ->
                    exit(W, kill),
                    {fail, heap_limit, fmt("heap limit of ~b words exceeded", [Heap]), 0};
                _ ->
                    watch(K, T0, To)
            end
    end.

%% The worker: holds the state, runs the genome. Its own bookkeeping (the
%% reduction count and the state cap) decides whether a new state is kept.
-spec worker(pid(), module(), {reference(), {init, term()} | {state, term()}, limits()}) ->
          no_return().
worker(Keeper, Mod, {Ref, Init, Limits}) ->
    R0 = reds(),
    Res = case Init of
              {state, S} -> {ok, S};
              {init, Arg} -> try {ok, Mod:init(Arg)} catch C:R -> {crash, crash(C, R)} end
          end,
    case checked(Res, R0, Limits) of
        {ok, State, Reds} ->
            Keeper ! {Ref, done, {ok, state_hash(State), Reds}},
            worker_loop(Keeper, Mod, {Ref, State, Limits});
        {fail, St, D, Reds} ->
            Keeper ! {Ref, done, {fail, St, D, Reds}},
            exit(normal)
    end.

-spec worker_loop(pid(), module(), {reference(), term(), limits()}) -> no_return().
worker_loop(Keeper, Mod, {Ref, State, Limits}) ->
    receive
        {Ref, {req, Req}} ->
            R0 = reds(),
            Res = try Mod:handle(Req, State) of
                      {_, _} = Pair -> {ok, Pair};
                      Other -> {bad_result, fmt("handle returned ~0P, not {Reply, State}",
                                                [Other, 8])}
                  catch C:R -> {crash, crash(C, R)}
                  end,
            case Res of
                {ok, {Reply, NS0}} ->
                    case checked({ok, NS0}, R0, Limits) of
                        {ok, NS, Reds} ->
                            Keeper ! {Ref, done, {ok, Reply, Reds}},
                            ?MODULE:worker_loop(Keeper, Mod, {Ref, NS, Limits});
                        Fail ->
                            Keeper ! {Ref, done, Fail},
                            ?MODULE:worker_loop(Keeper, Mod, {Ref, State, Limits})
                    end;
                {St, D} ->
                    Keeper ! {Ref, done, {fail, St, D, reds() - R0}},
                    ?MODULE:worker_loop(Keeper, Mod, {Ref, State, Limits})
            end;
        {Ref, {code_change, From}} ->
            R0 = reds(),
            Res = try
                      case erlang:function_exported(Mod, code_change, 2) of
                          true -> {ok, Mod:code_change(From, State)};
                          false -> {ok, State}
                      end
                  catch C:R -> {crash, crash(C, R)}
                  end,
            case checked(Res, R0, Limits) of
                {ok, NS, Reds} ->
                    Keeper ! {Ref, done, {ok, state_hash(NS), Reds}},
                    ?MODULE:worker_loop(Keeper, Mod, {Ref, NS, Limits});
                Fail ->
                    Keeper ! {Ref, done, Fail},
                    ?MODULE:worker_loop(Keeper, Mod, {Ref, State, Limits})
            end;
        {Ref, get_state} ->
            Keeper ! {Ref, state, State},
            ?MODULE:worker_loop(Keeper, Mod, {Ref, State, Limits});
        _ ->
            ?MODULE:worker_loop(Keeper, Mod, {Ref, State, Limits})
    end.

%% Whether a new state may be kept: the reductions the call used, the
%% worker's heap after it (state and garbage, as the watchdog sees it) and
%% the state's flat size, each against its limit.
-spec checked({ok, term()} | {status(), binary()}, non_neg_integer(), limits()) ->
          {ok, term(), non_neg_integer()} | {fail, status(), binary(), non_neg_integer()}.
checked({ok, S}, R0, {Budget, Cap, Heap}) ->
    Reds = reds() - R0,
    {total_heap_size, H} = process_info(self(), total_heap_size),
    if
        Budget > 0, Reds > Budget ->
            {fail, timeout, fmt("reduction budget ~b exceeded", [Budget]), Reds};
        H > Heap ->
            {fail, heap_limit, fmt("heap limit of ~b words exceeded", [Heap]), Reds};
        true ->
            case erts_debug:flat_size(S) of
                Words when Words > Cap ->
                    {fail, bad_result, fmt("state of ~b words is over the cap of ~b",
                                           [Words, Cap]), Reds};
                _ ->
                    {ok, S, Reds}
            end
    end;
checked({St, D}, R0, _) ->
    {fail, St, D, reds() - R0}.

-spec reds() -> non_neg_integer().
reds() ->
    {reductions, R} = process_info(self(), reductions),
    R.

-spec crash(atom(), term()) -> binary().
crash(C, R) -> fmt("~p:~0P", [C, R, 12]).

%% ---- helpers ---------------------------------------------------------------------------

-spec compile(opts(), binary()) -> {ok, binary()} | petri_loader:error().
compile(#{module := Mod} = O, Src) ->
    try petri_loader:prepare(loader_spec(O), Src) of
        {ok, Forms} ->
            Exports = lists:append([Es || {attribute, _, export, Es} <- Forms]),
            case lists:member({init, 1}, Exports) of
                true -> petri_loader:compile(Forms, Mod);
                false -> {error, compile_error, <<"function init/1 is not exported">>}
            end;
        Err -> Err
    catch C:R -> {error, internal, fmt("loader failed: ~p:~0P", [C, R, 12])}
    end.

-spec purge(module()) -> boolean().
purge(Mod) ->
    erlang:check_old_code(Mod) andalso erlang:purge_module(Mod).

-spec mod(#k{}) -> module().
mod(#k{o = #{module := M}}) -> M.

-spec decode(binary()) -> {ok, term()} | error.
decode(B) ->
    try {ok, binary_to_term(B, [safe])}
    catch error:badarg -> error
    end.

%% The score of one answered request: 1 for a right (or unchecked) reply,
%% 0 for a wrong one or a failure, less the weighted service time and
%% reductions.
-spec score(0..2, non_neg_integer(), non_neg_integer(), {float(), float()}) -> float().
score(0, _, _, _) -> 0.0;
score(_, Us, Reds, {LatW, RedW}) -> 1.0 - LatW * Us - RedW * Reds.

-spec reply(#k{}, non_neg_integer(), status(), 0..2, integer(), non_neg_integer(),
            non_neg_integer()) -> reply().
reply(#k{cur = {V, _, _}, o = #{lat_w := LW, red_w := RW}}, Seq, St, Correct, Arrived, Svc, Reds) ->
    Lat = erlang:monotonic_time(microsecond) - Arrived,
    Score = case St of ok -> score(Correct, Svc, Reds, {LW, RW}); _ -> 0.0 end,
    {Seq, St, Correct, V, Lat, Svc, Reds, Score}.

-spec now_us() -> integer().
now_us() -> erlang:monotonic_time(microsecond).

-spec mean([float(), ...]) -> float().
mean(L) -> lists:sum(L) / length(L).

%% Hex SHA-256 of a source.
-spec hash(binary()) -> binary().
hash(B) ->
    << <<(hex(N))>> || <<N:4>> <= crypto:hash(sha256, B) >>.

-spec hex(0..15) -> byte().
hex(N) when N < 10 -> $0 + N;
hex(N) -> $a + N - 10.

%% Hex SHA-256 of a state's external term format (deterministic: maps sorted).
-spec state_hash(term()) -> binary().
state_hash(S) ->
    hash(term_to_binary(S, [deterministic])).

-spec snap_bytes(term()) -> binary().
snap_bytes(S) ->
    B = term_to_binary(S, [deterministic]),
    case byte_size(B) =< ?SNAPSHOT_MAX of
        true -> B;
        false -> <<>>
    end.

-spec blank() -> event().
blank() ->
    #{kind => failed, upgrade_id => 0, version => 0, at_seq => 0, from_hash => <<>>,
      to_hash => <<>>, state_before => <<>>, state_after => <<>>, parent_score => nan,
      child_score => nan, probation => 0, reason => <<>>, snapshot => <<>>, took_us => 0}.

-spec ev(#k{}, atom(), map()) -> event().
ev(#k{cur = {V, _, _}, last_seq = Seq}, Kind, Fields) ->
    maps:merge((blank())#{kind => Kind, version => V, at_seq => Seq}, Fields).

-spec emit(#k{}, event()) -> ok.
emit(#k{o = #{out := Out, id := Id}}, Ev) ->
    Out ! {petri_live_out, Id, {event, Ev}},
    ok.

-spec emit_replies(#k{}, [reply()]) -> ok.
emit_replies(_, []) -> ok;
emit_replies(#k{o = #{out := Out, id := Id}}, Rs) ->
    Out ! {petri_live_out, Id, {replies, Rs}},
    ok.

-spec fmt(io:format(), [term()]) -> binary().
fmt(F, A) ->
    B = iolist_to_binary(io_lib:format(F, A)),
    case byte_size(B) > ?DETAIL_CHARS of
        true -> binary:part(B, 0, ?DETAIL_CHARS);
        false -> B
    end.
