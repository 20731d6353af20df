%% petri_node - the VM's entry point (-s petri_node): owns the work port on
%% fds 3/4, answers PINGs at once, and hands loads, evaluations and breeding
%% to short-lived worker processes. One frame per port message ({packet,4}).
%%
%% Invariants:
%%  1. The port owner never parses, compiles, loads or runs a genome: it
%%     decodes, allocates slots, spawns workers and encodes replies. It runs at
%%     high priority, so PING is answered while genomes compile or run.
%%  2. Every EVAL gets exactly one RESULT, every BREED one CHILD and every
%%     BREED_EVAL one BRED, with its req_id, in completion order (the agent
%%     pipelines requests). A worker that dies without answering yields status
%%     internal.
%%  3. Slots (petri_slots) are only handed to one worker at a time; an EVAL or
%%     BREED_EVAL that finds no free slot waits in a queue and triggers a purge batch at once.
%%     Otherwise dirty slots are purged by the purger process every
%%     ?PURGE_BATCH dirty slots or ?PURGE_MS after the first one.
%%  4. Process count stays small: owner + purger + two per request in flight.
%%     The purger runs at high priority so that dirty slots come back quickly
%%     and the set of slots ever used stays near the number of requests in
%%     flight (see petri_slots on why that keeps loads fast).
%%  5. The protocol never uses stdout; log lines go to stderr.
%%  6. Results are cached (petri_cache): an EVAL whose spec and source were
%%     evaluated before is answered at once by the owner, from the cache, with
%%     reused set; a BREED_EVAL's worker looks its child up the same way. The
%%     owner alone writes the cache, from the results its workers report.
%%     Hits are counted in stats/1 (the PONG layout has no field for them).
%%
%%  7. Live individuals (petri_live) each have a keeper process; the owner
%%     only routes LIVE_* frames to it by live id and encodes what it sends
%%     back. A LIVE_REQUESTS for an unknown id is answered at once with
%%     status internal, so no request goes unanswered.
%%
%% The pure core (handle_frame/2, handle_done/3, handle_purged/2, ...) returns
%% {Replies, Actions, State}; loop/1 sends the replies and performs the actions.
-module(petri_node).

-export([start/0, init_state/1, handle_frame/2, handle_done/3, handle_worker_down/3,
         handle_purged/2, handle_tick/1, stats/1, worker/4, purger/0]).

-define(VERSION, <<?PETRI_VERSION>>).   % from the file VERSION (Makefile)
-define(DEFAULT_SLOTS, 64).
-define(MAX_SLOTS, 100000).
-define(PURGE_BATCH, 32).    % purge once this many slots hold old code ...
-define(PURGE_MS, 5).        % ... or this long after the first one did
-define(MAX_LIVE, 16).       % live individuals per VM (each names one module)
-define(MAX_LIVE_ATOMS, 256).% atoms a LIVE_START may declare (as term cases)

-record(st, {
    slots :: petri_slots:slots(),
    loads = 0 :: non_neg_integer(),
    ok = 0 :: non_neg_integer(),
    failed = 0 :: non_neg_integer(),
    waiting = queue:new() :: queue:queue(tuple()),      % EVAL/BREED_EVALs without a slot
    workers = #{} :: #{pid() => {reference() | undefined, job()}},
    purging = false :: boolean(),
    timer = false :: boolean(),
    elixir = false :: boolean(),
    hits = 0 :: non_neg_integer(),                       % answers from petri_cache
    live = #{} :: #{non_neg_integer() => {pid(), reference(), non_neg_integer()}}
}).
-opaque state() :: #st{}.
-type job() :: {eval | breed_eval, non_neg_integer(), non_neg_integer()}
             | {breed, non_neg_integer()}.
-type res() :: petri_eval:job_result().   % {Status, Fit, Detail, LoadUs, EvalUs, Ext}
-type breeding() :: {binary(), non_neg_integer(), [binary()]}.   % {Op, Seed, Parents}
-type action() :: {eval, non_neg_integer(), petri_wire:spec(), {binary(), petri_cache:key()},
                   non_neg_integer()}
                | {breed_eval, non_neg_integer(), petri_wire:spec(), breeding(), non_neg_integer()}
                | {breed, non_neg_integer(), petri_wire:spec(), binary(), non_neg_integer(), [binary()]}
                | {purge, [non_neg_integer()]}
                | {cache, petri_cache:key(), petri_cache:entry()}
                | arm_timer
                | {log, iodata()}
                | {live_start, petri_wire:live_start()}
                | {live, non_neg_integer(), term()}
                | stop.
-type step() :: {[binary()], [action()], state()}.
-type slot_info() :: {boolean(), boolean()}.   % {Loaded, HasOld}
-export_type([state/0, action/0]).

%% ---- entry point ------------------------------------------------------------

-spec start() -> ok.
start() ->
    _ = spawn(fun main/0),
    ok.

-spec main() -> no_return().
main() ->
    %% Any report that still happens goes to stderr, never to stdout.
    _ = logger:remove_handler(default),
    _ = logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}}),
    process_flag(priority, high),
    process_flag(trap_exit, true),
    Port = open_port({fd, 3, 4}, [{packet, 4}, binary, eof]),
    St = init_state(#{slots => slots_arg(), elixir => petri_elixir:available()}),
    Purger = spawn_link(fun ?MODULE:purger/0),
    ok = petri_mutate:cache_init(),
    ok = petri_cache:init(),
    send(Port, [hello(St)]),
    try
        loop(Port, Purger, St)
    catch
        C:R:Stack ->
            log(io_lib:format("petri_node: control loop failed: ~p:~0P ~0P", [C, R, 20, Stack, 20])),
            erlang:halt(1)
    end.

-spec slots_arg() -> pos_integer().
slots_arg() ->
    case init:get_argument(petri_slots) of
        {ok, [[S | _] | _]} ->
            case catch list_to_integer(S) of
                N when is_integer(N), N >= 1, N =< ?MAX_SLOTS -> N;
                _ -> ?DEFAULT_SLOTS
            end;
        _ -> ?DEFAULT_SLOTS
    end.

-spec hello(state()) -> binary().
hello(#st{slots = Slots, elixir = Ex}) ->
    petri_wire:encode({hello, #{otp_release => list_to_binary(erlang:system_info(otp_release)),
                                os_pid => list_to_integer(os:getpid()),
                                slots => petri_slots:size(Slots), elixir => Ex,
                                version => ?VERSION, breeder => petri_mutate:breeder()}}).

%% ---- the impure loop ----------------------------------------------------------

-spec loop(port(), pid(), state()) -> no_return().
loop(Port, Purger, St) ->
    Step = receive
               {Port, {data, Frame}} -> handle_frame(Frame, St);
               {Port, eof} -> {[], [stop], St};
               {petri_done, Pid, Result} -> done(Pid, Result, St);
               {petri_purged, Results} -> handle_purged(Results, St);
               petri_purge_tick -> handle_tick(St);
               {'DOWN', _, process, Pid, Reason} -> down(Pid, Reason, St);
               {petri_live_out, Id, Out} -> {[live_out(Id, Out)], [], St};
               {'EXIT', Purger, Reason} -> exit({purger_died, Reason});
               _ -> {[], [], St}
           end,
    {Replies, Actions, St2} = Step,
    send(Port, Replies),
    loop(Port, Purger, lists:foldl(fun(A, S) -> act(A, Purger, S) end, St2, Actions)).

-spec done(pid(), term(), state()) -> step().
done(Pid, Result, #st{workers = W} = St) ->
    case W of
        #{Pid := {MRef, _}} -> erlang:demonitor(MRef, [flush]);
        _ -> ok
    end,
    handle_done(Pid, Result, St).

-spec down(pid(), term(), state()) -> step().
down(Pid, Reason, #st{workers = W} = St) ->
    case W of
        #{Pid := {_, {Kind, _, Slot}}} when Kind =:= eval; Kind =:= breed_eval ->
            Mod = petri_slots:module(Slot),
            handle_worker_down(Pid, {Reason, {erlang:module_loaded(Mod),
                                              erlang:check_old_code(Mod)}}, St);
        #{Pid := _} -> handle_worker_down(Pid, {Reason, {false, false}}, St);
        _ -> live_down(Pid, Reason, St)
    end.

-spec send(port(), [binary()]) -> ok.
send(Port, Replies) ->
    lists:foreach(fun(B) -> port_command(Port, B) end, Replies).

-spec act(action(), pid(), state()) -> state().
act({Kind, ReqId, Spec, Payload, Slot}, _, #st{workers = W} = St)
  when Kind =:= eval; Kind =:= breed_eval ->
    Job = {Kind, ReqId, Slot},
    {Pid, MRef} = spawn_monitor(?MODULE, worker, [self(), Job, Spec, Payload]),
    St#st{workers = W#{Pid => {MRef, Job}}};
act({breed, ReqId, Spec, Op, Seed, Parents}, _, #st{workers = W} = St) ->
    Job = {breed, ReqId},
    {Pid, MRef} = spawn_monitor(?MODULE, worker, [self(), Job, Spec, {Op, Seed, Parents}]),
    St#st{workers = W#{Pid => {MRef, Job}}};
act({cache, Key, Entry}, _, St) ->
    ok = petri_cache:insert(Key, Entry),
    St;
act({purge, Slots}, Purger, St) ->
    Purger ! {purge, self(), Slots},
    St;
act(arm_timer, _, St) ->
    _ = erlang:send_after(?PURGE_MS, self(), petri_purge_tick),
    St;
act({log, Text}, _, St) ->
    log(Text),
    St;
act({live_start, #{live_id := Id} = M}, _, #st{live = Live} = St) ->
    Used = [I || {_, _, I} <- maps:values(Live)],
    Free = [I || I <- lists:seq(0, ?MAX_LIVE - 1), not lists:member(I, Used)],
    case {maps:is_key(Id, Live), Free, length(maps:get(atoms, M)) =< ?MAX_LIVE_ATOMS} of
        {true, _, _} -> live_failed(Id, "live id ~b is in use", [Id]), St;
        {_, [], _} -> live_failed(Id, "~b live individuals already run here", [?MAX_LIVE]), St;
        {_, _, false} -> live_failed(Id, "more than ~b atoms declared", [?MAX_LIVE_ATOMS]), St;
        {false, [Idx | _], true} ->
            case declare_atoms(maps:get(atoms, M)) of
                ok ->
                    Opts = maps:merge(maps:with([timeout_ms, heap_words, reductions, state_words,
                                                 probation, window, lat_w, red_w, tolerance,
                                                 init_arg, source, snapshot, language], M),
                                      #{id => Id, out => self(),
                                        version => max(1, maps:get(version, M)),
                                        next_version => maps:get(next_version, M),
                                        module => list_to_atom("petri_live_" ++
                                                                   integer_to_list(Idx))}),
                    Pid = petri_live:start(Opts),
                    MRef = erlang:monitor(process, Pid),
                    St#st{live = Live#{Id => {Pid, MRef, Idx}}};
                {error, Why} ->
                    live_failed(Id, "~s", [Why]), St
            end
    end;
act({live, Id, Msg}, _, #st{live = Live} = St) ->
    case {Live, Msg} of
        {#{Id := {Pid, _, _}}, _} -> Pid ! Msg;
        {_, {requests, Reqs}} ->
            self() ! {petri_live_out, Id,
                      {replies, [{Seq, internal, 0, 0, 0, 0, 0, 0.0} || {Seq, _, _} <- Reqs]}};
        _ -> live_failed(Id, "no live individual ~b", [Id])
    end,
    St;
act(stop, _, _) ->
    erlang:halt(0).

%% ---- live individuals --------------------------------------------------------------

-spec live_out(non_neg_integer(), {replies, [petri_live:reply()]} | {event, petri_live:event()}) ->
          binary().
live_out(Id, {replies, Rs}) -> petri_wire:encode({live_replies, Id, Rs});
live_out(Id, {event, Ev}) -> petri_wire:encode({live_event, Id, Ev}).

-spec live_failed(non_neg_integer(), io:format(), [term()]) -> ok.
live_failed(Id, Fmt, Args) ->
    Ev = #{kind => failed, upgrade_id => 0, version => 0, at_seq => 0, from_hash => <<>>,
           to_hash => <<>>, state_before => <<>>, state_after => <<>>, parent_score => nan,
           child_score => nan, probation => 0, reason => fmt(Fmt, Args), snapshot => <<>>,
           took_us => 0},
    self() ! {petri_live_out, Id, {event, Ev}},
    ok.

%% The declared atoms exist before any term naming them is decoded.
-spec declare_atoms([binary()]) -> ok | {error, binary()}.
declare_atoms(Names) ->
    try
        lists:foreach(fun(N) when byte_size(N) =< 255 -> binary_to_atom(N, utf8) end, Names)
    catch
        _:_ -> {error, <<"an atom declared is not a valid atom name">>}
    end.

%% A keeper ended: stopped, never started (it said so), or crashed (say so).
-spec live_down(pid(), term(), state()) -> step().
live_down(Pid, Reason, #st{live = Live} = St) ->
    case [Id || {Id, {P, _, _}} <- maps:to_list(Live), P =:= Pid] of
        [Id] ->
            case Reason of
                normal -> ok;
                _ -> live_failed(Id, "the individual died: ~0P", [Reason, 10])
            end,
            {[], [], St#st{live = maps:remove(Id, Live)}};
        [] ->
            {[], [], St}
    end.

-spec log(iodata()) -> ok.
log(Text) ->
    io:put_chars(standard_error, [Text, $\n]).

%% ---- workers and the purger (separate processes) --------------------------------

%% Runs one job and reports {petri_done, self(), Result} to the owner; an
%% EVAL's or BREED_EVAL's Result carries the cache key of what it evaluated.
-spec worker(pid(), job(), petri_wire:spec(), term()) -> ok.
worker(Owner, {eval, _, Slot}, Spec, {Source, Key}) ->
    Mod = petri_slots:module(Slot),
    Res = try petri_eval:job_ext(Spec, Source, Mod)
          catch C:R -> failed(internal, fmt("evaluation failed: ~p:~0P", [C, R, 12]))
          end,
    %% the evaluation process is dead: old code, if any, is unused now
    Info = {erlang:module_loaded(Mod), erlang:check_old_code(Mod)},
    Owner ! {petri_done, self(), {Res, Info, Key}},
    ok;
worker(Owner, {breed_eval, _, Slot}, Spec, {Op, Seed, Parents}) ->
    Mod = petri_slots:module(Slot),
    {Res, Key} =
        try petri_mutate:breed_forms(Spec, Op, Seed, Parents) of
            {ok, Child, Forms, _} ->
                K = petri_cache:key(Spec, Child),
                case petri_cache:lookup(K) of
                    {ok, Entry} -> {{reused(Entry), Child}, K};
                    miss -> {{eval_child(Spec, Child, Forms, Mod), Child}, K}
                end;
            {Status, _, Detail} ->
                {{failed(Status, Detail), <<>>}, none}
        catch C2:R2 ->
            {{failed(internal, fmt("breeding failed: ~p:~0P", [C2, R2, 12])), <<>>}, none}
        end,
    Info = {erlang:module_loaded(Mod), erlang:check_old_code(Mod)},
    Owner ! {petri_done, self(), {Res, Info, Key}},
    ok;
worker(Owner, {breed, _}, Spec, {Op, Seed, Parents}) ->
    Res = petri_mutate:breed(Spec, Op, Seed, Parents),
    Owner ! {petri_done, self(), Res},
    ok.

-spec eval_child(petri_wire:spec(), binary(), {[erl_parse:abstract_form()], boolean()} | none,
                 module()) -> res().
eval_child(Spec, Child, Forms, Mod) ->
    %% the child's forms when its text parses to them: no second parse
    try
        case Forms of
            {Fs, Linted} -> petri_eval:job_forms_ext(Spec, Fs, Linted, Mod);
            none -> petri_eval:job_ext(Spec, Child, Mod)
        end
    catch C:R -> failed(internal, fmt("evaluation failed: ~p:~0P", [C, R, 12]))
    end.

%% A result with nothing measured: a failure before evaluation.
-spec failed(petri_wire:status(), binary()) -> res().
failed(Status, Detail) ->
    {Status, nan, Detail, 0, 0, petri_wire:default_ext()}.

%% A cached result, as the answer to a new request: nothing loaded or run.
-spec reused(petri_cache:entry()) -> res().
reused({Status, Fit, Detail, Ext}) ->
    {Status, Fit, Detail, 0, 0, Ext#{reused => true}}.

%% Purges batches of slots; reports {Slot, StillHasOldCode} for each.
-spec purger() -> no_return().
purger() ->
    %% High priority: purging must keep pace with loading, or fresh slots
    %% (more distinct modules, slower loads) get used instead of clean ones.
    _ = process_flag(priority, high),
    receive
        {purge, From, Slots} ->
            Res = [begin
                       Mod = petri_slots:module(K),
                       %% Straight to the runtime's purger: code:purge/1 would
                       %% queue behind every pending load in code_server.
                       _ = (catch erlang:check_old_code(Mod) andalso erlang:purge_module(Mod)),
                       {K, erlang:check_old_code(Mod)}
                   end || K <- Slots],
            From ! {petri_purged, Res}
    end,
    purger().

%% ---- the pure core ----------------------------------------------------------------

-spec init_state(#{slots := pos_integer(), elixir := boolean()}) -> state().
init_state(#{slots := N, elixir := Ex}) ->
    #st{slots = petri_slots:new(N), elixir = Ex}.

%% One frame from the agent.
-spec handle_frame(binary(), state()) -> step().
handle_frame(Frame, St) ->
    case petri_wire:decode(Frame) of
        {ok, {ping, Seq}} ->
            {[petri_wire:encode({pong, stats(St, Seq)})], [], St};
        {ok, {eval, ReqId, Spec, Source}} ->
            case petri_spec:validate(Spec) of
                ok ->
                    Key = petri_cache:key(Spec, Source),
                    case petri_cache:lookup(Key) of
                        {ok, Entry} ->
                            %% inserted again: a hit in the old generation survives
                            {[result(ReqId, reused(Entry))], [{cache, Key, Entry}],
                             count(reused(Entry), St)};
                        miss -> dispatch({eval, ReqId, Spec, {Source, Key}}, St)
                    end;
                {error, Detail} ->
                    {[result(ReqId, failed(unsupported, Detail))], [],
                     St#st{failed = St#st.failed + 1}}
            end;
        {ok, {breed, ReqId, Spec, Op, Seed, Parents}} ->
            {[], [{breed, ReqId, Spec, Op, Seed, Parents}], St};
        {ok, {breed_eval, ReqId, Spec, Op, Seed, Parents}} ->
            case petri_spec:validate(Spec) of
                ok -> dispatch({breed_eval, ReqId, Spec, {Op, Seed, Parents}}, St);
                {error, Detail} ->
                    {[bred(ReqId, {failed(unsupported, Detail), <<>>})], [],
                     St#st{failed = St#st.failed + 1}}
            end;
        {ok, stop} ->
            {[], [stop], St};
        {ok, {live_start, M}} ->
            {[], [{live_start, M}], St};
        {ok, {live_requests, Id, Reqs}} ->
            {[], [{live, Id, {requests, Reqs}}], St};
        {ok, {live_upgrade, Id, UpId, Prob, Src, Judge}} ->
            {[], [{live, Id, {upgrade, UpId, Src, Prob, Judge =/= 0}}], St};
        {ok, {live_stop, Id}} ->
            {[], [{live, Id, stop}], St};
        {ok, Other} ->
            {[], [{log, io_lib:format("petri_node: ignoring ~p from the agent", [element(1, Other)])}], St};
        {unknown, _Type} ->
            {[], [], St};
        {error, Why} ->
            {[], [{log, io_lib:format("petri_node: malformed frame (~0p bytes): ~0P",
                                      [byte_size(Frame), Why, 8])}], St}
    end.

%% The PONG fields.
-spec stats(state(), non_neg_integer()) -> map().
stats(#st{slots = Slots, loads = Loads, ok = Ok, failed = Failed, hits = Hits}, Seq) ->
    #{seq => Seq, memory => erlang:memory(total), cache_hits => Hits,
      processes => erlang:system_info(process_count),
      atoms => erlang:system_info(atom_count),
      live => petri_slots:live(Slots), loads => Loads,
      pending_purge => petri_slots:pending_purge(Slots),
      evals_ok => Ok, evals_failed => Failed}.

-spec stats(state()) -> map().
stats(St) -> stats(St, 0).

-spec dispatch(tuple(), state()) -> step().
dispatch({Kind, ReqId, Spec, Payload} = Req, #st{slots = Slots, waiting = Q} = St) ->
    case queue:is_empty(Q) andalso petri_slots:alloc(Slots) of
        {ok, K, Slots2} ->
            {[], [{Kind, ReqId, Spec, Payload, K}], St#st{slots = Slots2}};
        _ ->
            {Acts, St2} = maybe_purge(St#st{waiting = queue:in(Req, Q)}),
            {[], Acts, St2}
    end.

%% A worker finished. Result is {Res, SlotInfo, CacheKey} for an EVAL,
%% {{Res, Child}, SlotInfo, CacheKey | none} for a BREED_EVAL (Res a
%% petri_eval:job_result()) and {Status, Source, Detail} for a BREED.
-spec handle_done(pid(), term(), state()) -> step().
handle_done(Pid, Result, #st{workers = W} = St) ->
    case maps:take(Pid, W) of
        {{_, {eval, ReqId, Slot}}, W2} ->
            {Res, Info, Key} = Result,
            finish_eval(result(ReqId, Res), Slot, Res, Info, cache(Key, Res),
                        St#st{workers = W2});
        {{_, {breed_eval, ReqId, Slot}}, W2} ->
            {{Res, _} = Bred, Info, Key} = Result,
            finish_eval(bred(ReqId, Bred), Slot, Res, Info, cache(Key, Res),
                        St#st{workers = W2});
        {{_, {breed, ReqId}}, W2} ->
            {Status, Source, Detail} = Result,
            {[petri_wire:encode({child, ReqId, Status, Source, Detail})], [], St#st{workers = W2}};
        error ->
            {[], [], St}
    end.

%% A worker died without reporting: the request ends with status internal.
-spec handle_worker_down(pid(), {term(), slot_info()}, state()) -> step().
handle_worker_down(Pid, {Reason, Info}, #st{workers = W} = St) ->
    Detail = fmt("worker died: ~0P", [Reason, 10]),
    case maps:take(Pid, W) of
        {{_, {eval, ReqId, Slot}}, W2} ->
            Res = failed(internal, Detail),
            finish_eval(result(ReqId, Res), Slot, Res, Info, [], St#st{workers = W2});
        {{_, {breed_eval, ReqId, Slot}}, W2} ->
            Res = failed(internal, Detail),
            finish_eval(bred(ReqId, {Res, <<>>}), Slot, Res, Info, [], St#st{workers = W2});
        {{_, {breed, ReqId}}, W2} ->
            {[petri_wire:encode({child, ReqId, internal, <<>>, Detail})], [], St#st{workers = W2}};
        error ->
            {[], [], St}
    end.

-spec finish_eval(binary(), non_neg_integer(), res(), slot_info(), [action()], state()) -> step().
finish_eval(Reply, Slot, Res, {Loaded, HasOld}, CacheActs, St) ->
    #st{slots = Slots, loads = Loads} = St,
    St2 = count(Res, St#st{slots = petri_slots:release(Slot, Loaded, HasOld, Slots),
                           loads = Loads + case load_happened(Res) of true -> 1; false -> 0 end}),
    {Replies, Acts, St3} = drain(St2),
    {Acts2, St4} = maybe_purge(St3),
    {[Reply | Replies], CacheActs ++ Acts ++ Acts2, St4}.

%% Counts an answered evaluation (and a cache hit).
-spec count(res(), state()) -> state().
count({Status, _, _, _, _, #{reused := Reused}}, #st{ok = Ok, failed = Failed, hits = Hits} = St) ->
    St#st{ok = Ok + case Status of ok -> 1; _ -> 0 end,
          failed = Failed + case Status of ok -> 0; _ -> 1 end,
          hits = Hits + case Reused of true -> 1; false -> 0 end}.

%% What to put in the cache for a finished evaluation (a hit goes in again,
%% which keeps it in the newer generation).
-spec cache(petri_cache:key() | none, res()) -> [action()].
cache(none, _) -> [];
cache(Key, {Status, Fit, Detail, _, _, Ext}) ->
    case petri_cache:cacheable(Status) of
        true -> [{cache, Key, {Status, Fit, Detail, Ext#{reused => false}}}];
        false -> []
    end.

%% A load happened when evaluation started: an eval status other than the
%% loader's own failures, and not a result taken from the cache.
-spec load_happened(res()) -> boolean().
load_happened({_, _, _, _, _, #{reused := true}}) ->
    false;
load_happened({Status, _, _, _, _, _}) ->
    not lists:member(Status, [parse_error, unsafe, compile_error, unsupported, internal]).

%% Hands freed slots to waiting EVALs.
-spec drain(state()) -> step().
drain(#st{waiting = Q, slots = Slots} = St) ->
    case queue:out(Q) of
        {empty, _} -> {[], [], St};
        {{value, {Kind, ReqId, Spec, Payload}}, Q2} ->
            case petri_slots:alloc(Slots) of
                {ok, K, Slots2} ->
                    {R, A, St2} = drain(St#st{waiting = Q2, slots = Slots2}),
                    {R, [{Kind, ReqId, Spec, Payload, K} | A], St2};
                none -> {[], [], St}
            end
    end.

%% Purge now when the batch is full or a request waits for a slot; otherwise
%% make sure a tick will come.
-spec maybe_purge(state()) -> {[action()], state()}.
maybe_purge(#st{purging = true} = St) ->
    {[], St};
maybe_purge(#st{slots = Slots, waiting = Q, timer = Timer} = St) ->
    Dirty = petri_slots:dirty_count(Slots),
    Urgent = Dirty >= ?PURGE_BATCH orelse not queue:is_empty(Q),
    if
        Dirty =:= 0 -> {[], St};
        Urgent ->
            {Batch, Slots2} = petri_slots:take_dirty(Slots),
            {[{purge, Batch}], St#st{slots = Slots2, purging = true}};
        Timer -> {[], St};
        true -> {[arm_timer], St#st{timer = true}}
    end.

-spec handle_tick(state()) -> step().
handle_tick(#st{purging = true} = St) ->
    {[], [], St#st{timer = false}};
handle_tick(#st{slots = Slots} = St) ->
    case petri_slots:dirty_count(Slots) of
        0 -> {[], [], St#st{timer = false}};
        _ ->
            {Batch, Slots2} = petri_slots:take_dirty(Slots),
            {[], [{purge, Batch}], St#st{slots = Slots2, purging = true, timer = false}}
    end.

-spec handle_purged([{non_neg_integer(), boolean()}], state()) -> step().
handle_purged(Results, #st{slots = Slots} = St) ->
    St2 = St#st{slots = petri_slots:purged(Results, Slots), purging = false},
    {Replies, Acts, St3} = drain(St2),
    {Acts2, St4} = maybe_purge(St3),
    {Replies, Acts ++ Acts2, St4}.

-spec result(non_neg_integer(), res()) -> binary().
result(ReqId, {Status, Fit, Detail, LoadUs, EvalUs, Ext}) ->
    petri_wire:encode({result, ReqId, Status, Fit, Detail, LoadUs, EvalUs, Ext}).

-spec bred(non_neg_integer(), {res(), binary()}) -> binary().
bred(ReqId, {{Status, Fit, Detail, LoadUs, EvalUs, Ext}, Child}) ->
    petri_wire:encode({bred, ReqId, Status, Fit, Detail, LoadUs, EvalUs, Child, Ext}).

-spec fmt(io:format(), [term()]) -> binary().
fmt(F, A) -> iolist_to_binary(io_lib:format(F, A)).
