%% petri_eval - scores a loaded slot module on the spec's fitness cases in a
%% fresh, limited process, and turns every way that can end into a status.
%%
%% Invariants:
%%  1. Genome code runs only in the evaluation process, watched by the caller
%%     every ?POLL_MS for a wall-clock deadline, a reduction budget and its
%%     heap (total_heap_size in words, stack included). Nothing the genome does
%%     escapes as an exception or a crash report.
%%     The process also gets max_heap_size (kill => true, error_logger => false)
%%     as a safety net, but at max(2 * heap_words, ?NET_MIN_WORDS): on OTP 25.2
%%     (erts 13.1.5) a max_heap_size kill triggered by stack growth (deep
%%     recursion) with a limit below ~400k words crashes the whole VM with
%%     SIGSEGV, while heap-driven kills and large limits are fine. So the
%%     watchdog enforces heap_words itself and the VM's limit stays large.
%%  2. Statuses: ok (finite float fitness); crash (an exception, with its
%%     class and reason); bad_result (a non-number, or a fitness that does not
%%     fit a finite float); timeout (deadline or reduction budget);
%%     heap_limit (killed by max_heap_size, including deep recursion).
%%  3. run/2 returns only after the evaluation process is dead, so the slot's
%%     old code can be purged without killing anything.
-module(petri_eval).

-export([run/2, job/3, job_forms/4, fitness/3]).

-define(TAG, petri_score).
-define(POLL_MS, 2).          % watchdog period (deadline, reductions, heap)
-define(NET_MIN_WORDS, 4000000).  % the VM-enforced heap net never goes below this
-define(DETAIL_CHARS, 240).   % cap on the text of a detail

-type outcome() :: {petri_wire:status(), float() | nan, binary()}.
-export_type([outcome/0]).

%% Loads Source into Slot and scores it: {Status, Fitness, Detail, LoadUs, EvalUs}.
%% Never raises.
-spec job(petri_wire:spec(), binary(), module()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer(), non_neg_integer()}.
job(Spec, Source, Slot) ->
    load_run(Spec, Slot, fun() -> petri_loader:load(Spec, Source, Slot) end).

%% job/3 for a module in forms (petri_loader:load_forms/4).
-spec job_forms(petri_wire:spec(), [erl_parse:abstract_form()], boolean(), module()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer(), non_neg_integer()}.
job_forms(Spec, Forms, Linted, Slot) ->
    load_run(Spec, Slot, fun() -> petri_loader:load_forms(Spec, Forms, Linted, Slot) end).

-spec load_run(petri_wire:spec(), module(), fun(() -> ok | petri_loader:error())) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer(), non_neg_integer()}.
load_run(Spec, Slot, Load) ->
    T0 = now_us(),
    Loaded = try Load()
             catch C:R -> {error, internal, detail("loader failed: ~p:~0P", [C, R, 12])}
             end,
    T1 = now_us(),
    case Loaded of
        ok ->
            {St, Fit, Detail, EvalUs} = run(Slot, Spec),
            {St, Fit, Detail, T1 - T0, EvalUs};
        {error, St, Detail} ->
            {St, nan, Detail, T1 - T0, 0}
    end.

%% Scores the loaded module Mod: {Status, Fitness, Detail, EvalUs}.
-spec run(module(), petri_wire:spec()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer()}.
run(Mod, Spec) ->
    Fn = petri_spec:function(Spec),
    Cases = petri_spec:cases(Spec),
    Kind = petri_spec:error_kind(Spec),
    Heap = petri_spec:heap_words(Spec),
    Budget = petri_spec:reductions(Spec),
    TimeoutMs = petri_spec:timeout_ms(Spec),
    Self = self(),
    T0 = now_us(),
    Net = max(2 * Heap, ?NET_MIN_WORDS),
    {Pid, MRef} = spawn_opt(fun() -> Self ! {?TAG, self(), score(Mod, Fn, Cases, Kind, Budget)} end,
                            [monitor, {max_heap_size, #{size => Net, kill => true,
                                                        error_logger => false}}]),
    Deadline = T0 + TimeoutMs * 1000,
    {St, Fit, Detail} = watch(Pid, MRef, Deadline, Budget, Heap, TimeoutMs),
    {St, Fit, Detail, now_us() - T0}.

%% Runs in the evaluation process.
-spec score(module(), atom(), [petri_wire:fcase()], abs | square, non_neg_integer()) -> outcome().
score(Mod, Fn, Cases, Kind, Budget) ->
    Res = cases(Mod, Fn, Cases, Kind, 1, 0.0),
    {reductions, Used} = process_info(self(), reductions),
    case Res of
        {ok, _, _} when Budget > 0, Used > Budget ->
            {timeout, nan, detail("reduction budget ~b exceeded", [Budget])};
        _ -> Res
    end.

-spec cases(module(), atom(), [petri_wire:fcase()], abs | square, pos_integer(), float()) -> outcome().
cases(_, _, [], _, _, Acc) ->
    {ok, Acc, <<>>};
cases(Mod, Fn, [{In, Out} | T], Kind, I, Acc) ->
    try erlang:apply(Mod, Fn, In) of
        V when is_number(V) ->
            case fitness(Kind, V, Out) of
                {ok, E} ->
                    case add(Acc, E) of
                        {ok, Acc2} -> cases(Mod, Fn, T, Kind, I + 1, Acc2);
                        overflow -> {bad_result, nan, detail("fitness overflows a float at case ~b", [I])}
                    end;
                overflow ->
                    {bad_result, nan, detail("case ~b: error of result ~0P overflows a float", [I, V, 6])}
            end;
        V ->
            {bad_result, nan, detail("case ~b: result ~0P is not a number", [I, V, 8])}
    catch
        Class:Reason ->
            {crash, nan, detail("case ~b: ~p:~0P", [I, Class, Reason, 12])}
    end.

%% The error of one case as a finite float, or overflow.
-spec fitness(abs | square, number(), number()) -> {ok, float()} | overflow.
fitness(Kind, V, Out) ->
    try
        D = float(abs(V - Out)),
        E = case Kind of
                abs -> D;
                square -> D * D
            end,
        {ok, E}
    catch
        error:_ -> overflow
    end.

-spec add(float(), float()) -> {ok, float()} | overflow.
add(Acc, E) ->
    try {ok, Acc + E}
    catch error:_ -> overflow
    end.

%% The caller side: wait for the result, enforce deadline and budget.
-spec watch(pid(), reference(), integer(), non_neg_integer(), pos_integer(), pos_integer()) -> outcome().
watch(Pid, MRef, Deadline, Budget, Heap, TimeoutMs) ->
    Wait = max(0, min(?POLL_MS, ceil_ms(Deadline - now_us()))),
    receive
        {?TAG, Pid, Res} ->
            receive {'DOWN', MRef, process, Pid, _} -> ok end,
            Res;
        {'DOWN', MRef, process, Pid, killed} ->
            %% only the max_heap_size net kills it (our own kills wait for their DOWN)
            {heap_limit, nan, detail("heap limit of ~b words exceeded", [Heap])};
        {'DOWN', MRef, process, Pid, Reason} ->
            {crash, nan, detail("evaluation process exited: ~0P", [Reason, 12])}
    after Wait ->
        Info = process_info(Pid, [reductions, total_heap_size]),
        case now_us() >= Deadline of
            true ->
                kill(Pid, MRef),
                {timeout, nan, detail("wall-clock deadline of ~b ms exceeded", [TimeoutMs])};
            false ->
                case Info of
                    [{reductions, R}, _] when Budget > 0, R > Budget ->
                        kill(Pid, MRef),
                        {timeout, nan, detail("reduction budget ~b exceeded", [Budget])};
                    [_, {total_heap_size, H}] when H > Heap ->
                        kill(Pid, MRef),
                        {heap_limit, nan, detail("heap limit of ~b words exceeded", [Heap])};
                    _ ->
                        watch(Pid, MRef, Deadline, Budget, Heap, TimeoutMs)
                end
        end
    end.

-spec kill(pid(), reference()) -> ok.
kill(Pid, MRef) ->
    exit(Pid, kill),
    receive {'DOWN', MRef, process, Pid, _} -> ok end,
    %% a result sent just before the kill is stale now
    receive {?TAG, Pid, _} -> ok after 0 -> ok end.

-spec ceil_ms(integer()) -> integer().
ceil_ms(Us) -> (Us + 999) div 1000.

-spec now_us() -> integer().
now_us() -> erlang:monotonic_time(microsecond).

%% Detail text, bounded and safe for a wire str.
-spec detail(io:format(), [term()]) -> binary().
detail(Fmt, Args) ->
    S = lists:flatten(io_lib:format(Fmt, Args)),
    T = case length(S) > ?DETAIL_CHARS of
            true -> lists:sublist(S, ?DETAIL_CHARS) ++ "...";
            false -> S
        end,
    case unicode:characters_to_binary(T) of
        B when is_binary(B) -> petri_wire:sanitize_str(B);
        _ -> <<"(unprintable)">>
    end.
