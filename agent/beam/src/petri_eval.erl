%% petri_eval - scores a loaded slot module on the spec's fitness cases (numeric
%% or term cases, or the operator's evaluator module) in a fresh, limited
%% process, and turns every way that can end into a status and a RESULT_EXT.
%%
%% Invariants:
%%  1. Genome code runs only in the evaluation process, watched by the caller
%%     every ?POLL_MS for a wall-clock deadline, a reduction budget and its
%%     heap (total_heap_size in words, stack included, plus the off-heap
%%     binaries it references, which total_heap_size leaves out; the same sum
%%     is taken once more when the cases are done; the cases, copied into the
%%     process, count too). Nothing the genome does
%%     escapes as an exception or a crash report.
%%     The process also gets max_heap_size (kill => true, error_logger => false)
%%     as a safety net, but at max(2 * heap_words, ?NET_MIN_WORDS): on OTP 25.2
%%     (erts 13.1.5) a max_heap_size kill triggered by stack growth (deep
%%     recursion) with a limit below ~400k words crashes the whole VM with
%%     SIGSEGV, while heap-driven kills and large limits are fine. So the
%%     watchdog enforces heap_words itself and the VM's limit stays large.
%%  2. Statuses: ok (finite float fitness); crash (an exception, with its
%%     class and reason); bad_result (a non-number on a numeric case, an
%%     evaluator's malformed answer, or a fitness that does not fit a finite
%%     float); timeout (deadline or reduction budget); heap_limit (killed by
%%     max_heap_size, including deep recursion). On term cases a wrong result
%%     of any type is a failed case, not bad_result.
%%  3. run_ext/2 returns only after the evaluation process is dead, so the slot's
%%     old code can be purged without killing anything.
%%  4. The scoring loop does one call per case and nothing else per case:
%%     reductions and heap are read once, at the end (and by the watchdog).
%%  5. An evaluator module is compiled and loaded by the calling process
%%     (petri_evaluator), never by the port owner; it then runs inside the
%%     evaluation process, under the same limits as the cases.
-module(petri_eval).

-export([job_ext/3, job_forms_ext/4, run_ext/2, job/3, run/2, fitness/3, compare/5]).

-define(TAG, petri_score).
-define(POLL_MS, 2).          % watchdog period (deadline, reductions, heap)
-define(NET_MIN_WORDS, 4000000).  % the VM-enforced heap net never goes below this
-define(DETAIL_CHARS, 240).   % cap on the text of a detail
-define(MAX_METRICS, 32).     % named metrics an evaluator may return
-define(MAX_METRIC_NAME, 31). % bytes of a metric's name
-define(EDIT_CELLS, 4096).    % cells of one edit-distance table (64 x 64), else a bound

-type outcome() :: {petri_wire:status(), float() | nan, binary()}.
-type job_result() :: {petri_wire:status(), float() | nan, binary(), non_neg_integer(),
                       non_neg_integer(), petri_wire:ext()}.
%% How a term case is judged: the error kind, the float tolerance, the
%% mismatch error, and whether a tuple case gives an error per element.
-type how() :: {abs | square | edit, float(), float(), boolean()}.
%% How the evaluation process scores the genome.
-type plan() :: {numeric, [petri_wire:fcase()], abs | square | edit, float(), boolean()}
              | {terms, [petri_wire:tcase()], how(), boolean()}
              | {evaluator, module(), arity()}.
%% What the evaluation process reports: the outcome, and its reductions and
%% heap words (off-heap binaries included) when it finished.
-type scored() :: {{ok, float(), non_neg_integer(), non_neg_integer(), [float()],
                    [{binary(), float()}]} | {petri_wire:status(), binary()},
                   non_neg_integer(), non_neg_integer()}.
%% What the watchdog saw: the process's report, or why it was stopped; with
%% the last sampled reductions and the largest sampled heap.
-type watched() :: {scored, scored(), {non_neg_integer(), non_neg_integer()}}
                 | {stopped, outcome(), {non_neg_integer(), non_neg_integer()}}.
-export_type([outcome/0, job_result/0]).

%% Loads Source into Slot and scores it:
%% {Status, Fitness, Detail, LoadUs, EvalUs, Ext}. Never raises.
-spec job_ext(petri_wire:spec(), binary(), module()) -> job_result().
job_ext(Spec, Source, Slot) ->
    load_run(Spec, Slot, fun() -> petri_loader:load(Spec, Source, Slot) end).

%% job_ext/3 without RESULT_EXT: {Status, Fitness, Detail, LoadUs, EvalUs}.
-spec job(petri_wire:spec(), binary(), module()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer(), non_neg_integer()}.
job(Spec, Source, Slot) ->
    {St, Fit, Detail, LoadUs, EvalUs, _} = job_ext(Spec, Source, Slot),
    {St, Fit, Detail, LoadUs, EvalUs}.

%% job_ext/3 for a module in forms (petri_loader:load_forms/4).
-spec job_forms_ext(petri_wire:spec(), [erl_parse:abstract_form()], boolean(), module()) -> job_result().
job_forms_ext(Spec, Forms, Linted, Slot) ->
    load_run(Spec, Slot, fun() -> petri_loader:load_forms(Spec, Forms, Linted, Slot) end).

-spec load_run(petri_wire:spec(), module(), fun(() -> ok | petri_loader:error())) -> job_result().
load_run(Spec, Slot, Load) ->
    T0 = now_us(),
    Loaded = try Load()
             catch C:R -> {error, internal, detail("loader failed: ~p:~0P", [C, R, 12])}
             end,
    T1 = now_us(),
    case Loaded of
        ok ->
            {St, Fit, Detail, EvalUs, Ext} = run_ext(Slot, Spec),
            {St, Fit, Detail, T1 - T0, EvalUs, Ext};
        {error, St, Detail} ->
            {St, nan, Detail, T1 - T0, 0, ext_failed(0, 0, 0)}
    end.

%% run_ext/2 without RESULT_EXT: {Status, Fitness, Detail, EvalUs}.
-spec run(module(), petri_wire:spec()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer()}.
run(Mod, Spec) ->
    {St, Fit, Detail, EvalUs, _} = run_ext(Mod, Spec),
    {St, Fit, Detail, EvalUs}.

%% Scores the loaded module Mod: {Status, Fitness, Detail, EvalUs, Ext}.
-spec run_ext(module(), petri_wire:spec()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer(), petri_wire:ext()}.
run_ext(Mod, Spec) ->
    case plan(Spec) of
        {ok, Plan} -> run(Mod, Spec, Plan);
        {error, St, Detail} -> {St, nan, Detail, 0, ext_failed(0, 0, 0)}
    end.

-spec plan(petri_wire:spec()) -> {ok, plan()} | petri_loader:error().
plan(Spec) ->
    Kind = petri_spec:error_kind(Spec),
    Tol = petri_spec:float_tol(Spec),
    PerCase = petri_spec:per_case(Spec),
    case petri_spec:evaluator(Spec) of
        {Lang, Src} ->
            case petri_evaluator:ensure(Lang, Src) of
                {ok, EvMod} -> {ok, {evaluator, EvMod, petri_spec:arity(Spec)}};
                Err -> Err
            end;
        none ->
            case petri_spec:term_cases(Spec) of
                none -> {ok, {numeric, petri_spec:cases(Spec), Kind, Tol, PerCase}};
                Cases ->
                    How = {Kind, Tol, petri_spec:mismatch_error(Spec),
                           petri_spec:split_tuples(Spec)},
                    {ok, {terms, Cases, How, PerCase}}
            end
    end.

-spec run(module(), petri_wire:spec(), plan()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer(), petri_wire:ext()}.
run(Mod, Spec, Plan) ->
    Fn = petri_spec:function(Spec),
    Heap = petri_spec:heap_words(Spec),
    Budget = petri_spec:reductions(Spec),
    TimeoutMs = petri_spec:timeout_ms(Spec),
    Self = self(),
    T0 = now_us(),
    Net = max(2 * Heap, ?NET_MIN_WORDS),
    {Pid, MRef} = spawn_opt(fun() -> Self ! {?TAG, self(), score(Mod, Fn, Plan)} end,
                            [monitor, {max_heap_size, #{size => Net, kill => true,
                                                        error_logger => false}}]),
    Deadline = T0 + TimeoutMs * 1000,
    Watched = watch(Pid, MRef, Deadline, Budget, Heap, TimeoutMs, {0, 0}),
    EvalUs = now_us() - T0,
    finish(Watched, Budget, Heap, EvalUs, petri_spec:cost(Spec)).

%% Turns what the watchdog saw into {Status, Fitness, Detail, EvalUs, Ext}.
-spec finish(watched(), non_neg_integer(), pos_integer(), non_neg_integer(), petri_spec:cost()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer(), petri_wire:ext()}.
finish({stopped, {St, nan, Detail}, {Reds, Peak}}, _, _, EvalUs, _) ->
    {St, nan, Detail, EvalUs, ext_failed(Reds, Peak, EvalUs)};
finish({scored, {Res, Reds, Final}, {_, Sampled}}, Budget, Heap, EvalUs, Cost) ->
    Peak = max(Sampled, Final),
    if
        Budget > 0, Reds > Budget ->
            {timeout, nan, detail("reduction budget ~b exceeded", [Budget]), EvalUs,
             ext_failed(Reds, Peak, EvalUs)};
        Peak > Heap ->
            {heap_limit, nan, detail("heap limit of ~b words exceeded", [Heap]), EvalUs,
             ext_failed(Reds, Peak, EvalUs)};
        true ->
            scored(Res, Reds, Peak, EvalUs, Cost)
    end.

-spec scored(tuple(), non_neg_integer(), non_neg_integer(), non_neg_integer(), petri_spec:cost()) ->
          {petri_wire:status(), float() | nan, binary(), non_neg_integer(), petri_wire:ext()}.
scored({ok, Err, Passed, N, Errs, Named}, Reds, Peak, EvalUs, {Mode, {WR, WH, WT}}) ->
    Base = [{<<"reductions">>, float(Reds)}, {<<"heap_words">>, float(Peak)},
            {<<"eval_us">>, float(EvalUs)}],
    Ext = #{passed => Passed, cases => N, reused => false, metrics => Base ++ Named,
            errors => Errs},
    Cost = case Mode of
               none -> {ok, 0.0};
               _ -> add(WR * Reds + WH * Peak, WT * EvalUs)
           end,
    case {Mode, Cost} of
        {_, overflow} ->
            {bad_result, nan, <<"the cost overflows a float">>, EvalUs, ext_failed(Reds, Peak, EvalUs)};
        {weighted, {ok, C}} ->
            case add(Err, C) of
                {ok, F} -> {ok, F, <<>>, EvalUs, Ext#{cost => C}};
                overflow -> {bad_result, nan, <<"fitness plus cost overflows a float">>, EvalUs,
                             ext_failed(Reds, Peak, EvalUs)}
            end;
        {_, {ok, C}} ->
            {ok, Err, <<>>, EvalUs, Ext#{cost => C}}
    end;
scored({St, Detail}, Reds, Peak, EvalUs, _) ->
    {St, nan, Detail, EvalUs, ext_failed(Reds, Peak, EvalUs)}.

%% RESULT_EXT of a genome that did not score: no cases, no cost, what was measured.
-spec ext_failed(non_neg_integer(), non_neg_integer(), non_neg_integer()) -> petri_wire:ext().
ext_failed(Reds, Peak, EvalUs) ->
    (petri_wire:default_ext())#{metrics => [{<<"reductions">>, float(Reds)},
                                            {<<"heap_words">>, float(Peak)},
                                            {<<"eval_us">>, float(EvalUs)}]}.

%% ---- the evaluation process ------------------------------------------------------

%% Runs in the evaluation process; its own reductions and heap are read once, at the end.
-spec score(module(), atom(), plan()) -> scored().
score(Mod, Fn, Plan) ->
    Res = try plan_run(Mod, Fn, Plan)
          catch
              %% only an evaluator's own code gets here; the cases catch their calls
              Class:Reason -> {crash, detail("evaluator: ~p:~0P", [Class, Reason, 12])}
          end,
    [{reductions, Used}, {total_heap_size, H}, {binary, Bins}] =
        process_info(self(), [reductions, total_heap_size, binary]),
    {Res, Used, H + bin_words(Bins)}.

-spec plan_run(module(), atom(), plan()) -> tuple().
plan_run(Mod, Fn, {numeric, Cases, Kind, Tol, PerCase}) ->
    cases(Mod, Fn, Cases, Kind, Tol, errs0(PerCase), 1, 0, 0.0);
plan_run(Mod, Fn, {terms, Cases, How, PerCase}) ->
    terms(Mod, Fn, Cases, How, errs0(PerCase), 1, 0, 0.0);
plan_run(Mod, Fn, {evaluator, EvMod, Arity}) ->
    evaluator(EvMod:evaluate(erlang:make_fun(Mod, Fn, Arity))).

-spec errs0(boolean()) -> [float()] | none.
errs0(true) -> [];
errs0(false) -> none.

-spec errs(float(), [float()] | none) -> [float()] | none.
errs(_, none) -> none;
errs(E, L) -> [E | L].

-spec done(float(), non_neg_integer(), pos_integer(), [float()] | none) -> tuple().
done(Acc, Passed, I, Errs) ->
    {ok, Acc, Passed, I - 1, case Errs of none -> []; _ -> lists:reverse(Errs) end, []}.

-spec cases(module(), atom(), [petri_wire:fcase()], abs | square | edit, float(), [float()] | none,
            pos_integer(), non_neg_integer(), float()) -> tuple().
cases(_, _, [], _, _, Errs, I, Passed, Acc) ->
    done(Acc, Passed, I, Errs);
cases(Mod, Fn, [{In, Out} | T], Kind, Tol, Errs, I, Passed, Acc) ->
    try erlang:apply(Mod, Fn, In) of
        V when is_number(V) ->
            case fitness(Kind, V, Out) of
                {ok, E} ->
                    case add(Acc, E) of
                        {ok, Acc2} ->
                            P = case E =< Tol of true -> Passed + 1; false -> Passed end,
                            cases(Mod, Fn, T, Kind, Tol, errs(E, Errs), I + 1, P, Acc2);
                        overflow -> {bad_result, detail("fitness overflows a float at case ~b", [I])}
                    end;
                overflow ->
                    {bad_result, detail("case ~b: error of result ~0P overflows a float", [I, V, 6])}
            end;
        V ->
            {bad_result, detail("case ~b: result ~0P is not a number", [I, V, 8])}
    catch
        Class:Reason ->
            {crash, detail("case ~b: ~p:~0P", [I, Class, Reason, 12])}
    end.

-spec terms(module(), atom(), [petri_wire:tcase()], how(), [float()] | none, pos_integer(),
            non_neg_integer(), float()) -> tuple().
terms(Mod, Fn, Cases, How, Errs, I, Passed, Acc) ->
    terms(Mod, Fn, Cases, How, Errs, I, Passed, Acc, 0).

%% A case that raises is a failed case with the mismatch error (as a program
%% judged by tests fails that test), so a program that is wrong on some
%% inputs stays comparable; how many raised is the metric crashed_cases.
%% Under split_tuples a case expecting a tuple gives an error per element
%% (judge/3), all of them added to the fitness and to the per-case errors.
-spec terms(module(), atom(), [petri_wire:tcase()], how(), [float()] | none, pos_integer(),
            non_neg_integer(), float(), non_neg_integer()) -> tuple().
terms(_, _, [], _, Errs, I, Passed, Acc, 0) ->
    done(Acc, Passed, I, Errs);
terms(_, _, [], _, Errs, I, Passed, Acc, Crashed) ->
    {ok, Err, P, N, Es, Named} = done(Acc, Passed, I, Errs),
    {ok, Err, P, N, Es, [{<<"crashed_cases">>, float(Crashed)} | Named]};
terms(Mod, Fn, [{In, Want} | T], How, Errs, I, Passed, Acc, Crashed) ->
    Got = try {value, erlang:apply(Mod, Fn, In)}
          catch _:_ -> raised
          end,
    case judge(Got, Want, How) of
        {Pass, Es} ->
            case add_all(Acc, Es, Errs) of
                {ok, Acc2, Errs2} ->
                    P = case Pass of true -> Passed + 1; false -> Passed end,
                    C = case Got of raised -> Crashed + 1; _ -> Crashed end,
                    terms(Mod, Fn, T, How, Errs2, I + 1, P, Acc2, C);
                overflow -> {bad_result, detail("fitness overflows a float at case ~b", [I])}
            end;
        overflow ->
            {value, V} = Got,
            {bad_result, detail("case ~b: error of result ~0P overflows a float", [I, V, 6])}
    end.

%% One case's verdict and errors. A case whose expected result is a tuple,
%% under split_tuples: one error per element, each as compare/5 grades it
%% (a result that raised or is not a tuple of that size: Mis for each), and
%% it passes when every element does. Otherwise one error (compare/5; Mis
%% when it raised).
-spec judge({value, term()} | raised, term(), how()) -> {boolean(), [float()]} | overflow.
judge(Got, Want, {Kind, Tol, Mis, true}) when is_tuple(Want), tuple_size(Want) > 0 ->
    N = tuple_size(Want),
    case Got of
        {value, V} when is_tuple(V), tuple_size(V) =:= N ->
            Vs = lists:zipwith(fun(X, W) -> compare(X, W, Kind, Tol, Mis) end,
                               tuple_to_list(V), tuple_to_list(Want)),
            case lists:member(overflow, Vs) of
                true -> overflow;
                false -> {lists:all(fun({P, _}) -> P end, Vs), [E || {_, E} <- Vs]}
            end;
        _ -> {false, lists:duplicate(N, Mis)}
    end;
judge({value, V}, Want, {Kind, Tol, Mis, _}) ->
    case compare(V, Want, Kind, Tol, Mis) of
        {Pass, E} -> {Pass, [E]};
        overflow -> overflow
    end;
judge(raised, _, {_, _, Mis, _}) ->
    {false, [Mis]}.

%% Adds a case's errors to the fitness and to the per-case errors.
-spec add_all(float(), [float()], [float()] | none) -> {ok, float(), [float()] | none} | overflow.
add_all(Acc, [], Errs) ->
    {ok, Acc, Errs};
add_all(Acc, [E | Es], Errs) ->
    case add(Acc, E) of
        {ok, Acc2} -> add_all(Acc2, Es, errs(E, Errs));
        overflow -> overflow
    end.

%% One term case: {Passed, Error}. Both numbers: the error is their distance
%% (abs or squared) and a float involved passes within Tol. Otherwise the
%% result passes when it equals the expected term exactly, floats inside it
%% compared within Tol, and its error is 0 or Mis; under edit, the error of
%% a wrong result is distance/4 instead.
-spec compare(term(), term(), abs | square | edit, float(), float()) -> {boolean(), float()} | overflow.
compare(V, W, Kind, Tol, _) when is_number(V), is_number(W) ->
    case fitness(Kind, V, W) of
        {ok, E} when is_integer(V), is_integer(W) -> {V =:= W, E};
        {ok, E} -> {near(V, W, Tol), E};
        overflow -> overflow
    end;
compare(V, V, _, _, _) ->
    {true, 0.0};
compare(V, W, Kind, Tol, Mis) ->
    case same(V, W, Tol) of
        true -> {true, 0.0};
        false when Kind =:= edit ->
            case distance(V, W, Tol, Mis) of
                overflow -> overflow;
                D -> {false, D}
            end;
        false -> {false, Mis}
    end.

%% The edit error of a result V against the expected W: numbers their
%% absolute difference; two lists (strings are lists) or two binaries the
%% Levenshtein distance between them, an element or byte inserted, deleted
%% or replaced costing 1 (elements compared as same/3 does); two tuples of
%% one size the sum of their elements' distances ({Text, Count}: the text's
%% edits plus the count's difference); anything else 0 when same/3 holds,
%% else Mis. The work is bounded: past ?EDIT_CELLS cells of the table (after
%% the common prefix and suffix are dropped, levenshtein/3), the distance is
%% the larger remaining length, its upper bound. It runs in the evaluation
%% process, so its reductions and heap count against the genome's limits.
-spec distance(term(), term(), float(), float()) -> float() | overflow.
distance(V, W, _, _) when is_number(V), is_number(W) ->
    case fitness(abs, V, W) of
        {ok, E} -> E;
        overflow -> overflow
    end;
distance(V, W, Tol, Mis) when is_binary(V), is_binary(W) ->
    distance(binary_to_list(V), binary_to_list(W), Tol, Mis);
distance(V, W, Tol, Mis) when is_list(V), is_list(W) ->
    case is_proper(V) of
        true -> float(levenshtein(V, W, Tol));
        false -> Mis
    end;
distance(V, W, Tol, Mis) when is_tuple(V), is_tuple(W), tuple_size(V) =:= tuple_size(W) ->
    lists:foldl(fun(_, overflow) -> overflow;
                   ({X, Y}, Acc) ->
                        case distance(X, Y, Tol, Mis) of
                            overflow -> overflow;
                            D -> Acc + D
                        end
                end, 0.0, lists:zip(tuple_to_list(V), tuple_to_list(W)));
distance(V, W, Tol, Mis) ->
    case same(V, W, Tol) of
        true -> 0.0;
        false -> Mis
    end.

%% A proper list, walked in Erlang (an improper one is a wrong result).
-spec is_proper(term()) -> boolean().
is_proper([]) -> true;
is_proper([_ | T]) -> is_proper(T);
is_proper(_) -> false.

%% The common prefix costs nothing and is dropped without copying; the
%% common suffix is dropped (two reversed copies) only when the table is
%% still too large and neither list is longer than ?EDIT_CELLS.
-spec levenshtein(list(), list(), float()) -> non_neg_integer().
levenshtein(A0, B0, Tol) ->
    {A1, B1} = drop_prefix(A0, B0, Tol),
    case lev_small(A1, B1, Tol) of
        {big, N, M} when N > ?EDIT_CELLS; M > ?EDIT_CELLS -> max(N, M);
        {big, _, _} ->
            {RA, RB} = drop_prefix(lists:reverse(A1), lists:reverse(B1), Tol),
            case lev_small(RA, RB, Tol) of
                {big, N, M} -> max(N, M);
                D -> D
            end;
        D -> D
    end.

%% The distance when the table is small enough, else {big, N, M}.
-spec lev_small(list(), list(), float()) ->
          non_neg_integer() | {big, non_neg_integer(), non_neg_integer()}.
lev_small(A, B, Tol) ->
    N = length(A),
    M = length(B),
    if
        N =:= 0 -> M;
        M =:= 0 -> N;
        N * M > ?EDIT_CELLS -> {big, N, M};
        true -> lev_rows(A, B, lists:seq(0, M), Tol)
    end.

-spec drop_prefix(list(), list(), float()) -> {list(), list()}.
drop_prefix([X | A], [Y | B], Tol) ->
    case same(X, Y, Tol) of
        true -> drop_prefix(A, B, Tol);
        false -> {[X | A], [Y | B]}
    end;
drop_prefix(A, B, _) -> {A, B}.

%% The classic dynamic programme, one row of the table per element of A.
-spec lev_rows(list(), list(), [non_neg_integer()], float()) -> non_neg_integer().
lev_rows([], _, Row, _) -> lists:last(Row);
lev_rows([X | A], B, [D0 | _] = Prev, Tol) ->
    lev_rows(A, B, lev_row(X, B, Prev, [D0 + 1], Tol), Tol).

-spec lev_row(term(), list(), [non_neg_integer()], [non_neg_integer(), ...], float()) ->
          [non_neg_integer()].
lev_row(_, [], _, Acc, _) -> lists:reverse(Acc);
lev_row(X, [Y | B], [Diag, Up | Prev], [Left | _] = Acc, Tol) ->
    Sub = case same(X, Y, Tol) of
              true -> Diag;
              false -> Diag + 1
          end,
    lev_row(X, B, [Up | Prev], [min(Sub, min(Up, Left) + 1) | Acc], Tol).

-spec near(number(), number(), float()) -> boolean().
near(V, W, Tol) ->
    try abs(V - W) =< Tol
    catch error:_ -> false
    end.

%% Structural equality with floats compared within Tol (only reached when =:= failed).
-spec same(term(), term(), float()) -> boolean().
same(V, W, Tol) when is_number(V), is_number(W) ->
    case is_integer(V) andalso is_integer(W) of
        true -> V =:= W;
        false -> near(V, W, Tol)
    end;
same([H1 | T1], [H2 | T2], Tol) ->
    same(H1, H2, Tol) andalso same(T1, T2, Tol);
same(V, W, Tol) when is_tuple(V), is_tuple(W), tuple_size(V) =:= tuple_size(W) ->
    same(tuple_to_list(V), tuple_to_list(W), Tol);
same(V, W, Tol) when is_map(V), is_map(W), map_size(V) =:= map_size(W) ->
    %% keys match exactly (as map keys do), values within Tol
    lists:all(fun({K, X}) ->
                      case W of
                          #{K := Y} -> same(X, Y, Tol);
                          _ -> false
                      end
              end, maps:to_list(V));
same(V, W, _) ->
    V =:= W.

%% An evaluator's answer: Error, or {Error, #{Name => Number}}.
-spec evaluator(term()) -> tuple().
evaluator({Err, Metrics}) when is_map(Metrics) ->
    case finite(Err) of
        {ok, E} ->
            case metrics(Metrics) of
                {ok, Passed, N, Named} -> {ok, E, Passed, N, [], Named};
                {error, Why} -> {bad_result, detail("evaluator: ~s", [Why])}
            end;
        error -> {bad_result, detail("evaluator: error ~0P is not a finite number", [Err, 8])}
    end;
evaluator(Err) ->
    case finite(Err) of
        {ok, E} -> {ok, E, 0, 0, [], []};
        error -> {bad_result, detail("evaluator: result ~0P is neither a number nor "
                                     "{Error, #{Name => Number}}", [Err, 8])}
    end.

-spec finite(term()) -> {ok, float()} | error.
finite(X) when is_number(X) ->
    try {ok, float(X)}
    catch error:_ -> error
    end;
finite(_) ->
    error.

%% Named metrics, sorted by name; passed and cases set those fields instead.
-spec metrics(map()) -> {ok, non_neg_integer(), non_neg_integer(), [{binary(), float()}]}
                            | {error, iodata()}.
metrics(M) when map_size(M) > ?MAX_METRICS ->
    {error, io_lib:format("~b metrics, limit ~b", [map_size(M), ?MAX_METRICS])};
metrics(M) ->
    metrics(lists:sort(maps:to_list(M)), 0, 0, []).

-spec metrics([{term(), term()}], non_neg_integer(), non_neg_integer(), [{binary(), float()}]) ->
          {ok, non_neg_integer(), non_neg_integer(), [{binary(), float()}]} | {error, iodata()}.
metrics([], P, N, Acc) ->
    {ok, P, N, lists:keysort(1, Acc)};
metrics([{K, V} | T], P, N, Acc) ->
    case {metric_name(K), finite(V)} of
        {error, _} ->
            {error, io_lib:format("metric name ~0P is not an atom or binary of 1-~b bytes "
                                  "without NUL", [K, 6, ?MAX_METRIC_NAME])};
        {_, error} ->
            {error, io_lib:format("metric ~0P: ~0P is not a finite number", [K, 6, V, 6])};
        {<<"passed">>, _} when is_integer(V), V >= 0, V < 1 bsl 32 -> metrics(T, V, N, Acc);
        {<<"cases">>, _} when is_integer(V), V >= 0, V < 1 bsl 32 -> metrics(T, P, V, Acc);
        {Name, _} when Name =:= <<"passed">>; Name =:= <<"cases">> ->
            {error, io_lib:format("metric ~s must be an integer in 0..2^32-1", [Name])};
        {Name, {ok, F}} ->
            metrics(T, P, N, [{Name, F} | Acc])
    end.

-spec metric_name(term()) -> binary() | error.
metric_name(K) when is_atom(K) -> metric_name(atom_to_binary(K, utf8));
metric_name(K) when is_binary(K), byte_size(K) >= 1, byte_size(K) =< ?MAX_METRIC_NAME ->
    case binary:match(K, <<0>>) of
        nomatch -> K;
        _ -> error
    end;
metric_name(_) ->
    error.

%% The error of one case as a finite float, or overflow.
-spec fitness(abs | square | edit, number(), number()) -> {ok, float()} | overflow.
fitness(Kind, V, Out) ->
    try
        D = float(abs(V - Out)),
        E = case Kind of
                square -> D * D;
                _ -> D
            end,
        {ok, E}
    catch
        error:_ -> overflow
    end.

-spec add(number(), number()) -> {ok, float()} | overflow.
add(Acc, E) ->
    try {ok, float(Acc + E)}
    catch error:_ -> overflow
    end.

%% ---- the watchdog (the caller's side) ------------------------------------------

%% Waits for the result, enforcing deadline, budget and heap; also returns the
%% last sampled reductions and the largest sampled heap.
-spec watch(pid(), reference(), integer(), non_neg_integer(), pos_integer(), pos_integer(),
            {non_neg_integer(), non_neg_integer()}) -> watched().
watch(Pid, MRef, Deadline, Budget, Heap, TimeoutMs, {_, Peak} = Seen) ->
    Wait = max(0, min(?POLL_MS, ceil_ms(Deadline - now_us()))),
    receive
        {?TAG, Pid, Res} ->
            receive {'DOWN', MRef, process, Pid, _} -> ok end,
            {scored, Res, Seen};
        {'DOWN', MRef, process, Pid, killed} ->
            %% only the max_heap_size net kills it (our own kills wait for their DOWN)
            {stopped, {heap_limit, nan, detail("heap limit of ~b words exceeded", [Heap])}, Seen};
        {'DOWN', MRef, process, Pid, Reason} ->
            {stopped, {crash, nan, detail("evaluation process exited: ~0P", [Reason, 12])}, Seen}
    after Wait ->
        Info = process_info(Pid, [reductions, total_heap_size, binary]),
        Seen2 = case Info of
                    [{reductions, R}, {total_heap_size, H}, {binary, Bins}] ->
                        {R, max(Peak, H + bin_words(Bins))};
                    _ -> Seen
                end,
        case now_us() >= Deadline of
            true ->
                kill(Pid, MRef),
                {stopped, {timeout, nan, detail("wall-clock deadline of ~b ms exceeded", [TimeoutMs])}, Seen2};
            false ->
                case Seen2 of
                    {R2, _} when Budget > 0, R2 > Budget ->
                        kill(Pid, MRef),
                        {stopped, {timeout, nan, detail("reduction budget ~b exceeded", [Budget])}, Seen2};
                    {_, H2} when H2 > Heap ->
                        kill(Pid, MRef),
                        {stopped, {heap_limit, nan, detail("heap limit of ~b words exceeded", [Heap])}, Seen2};
                    _ ->
                        watch(Pid, MRef, Deadline, Budget, Heap, TimeoutMs, Seen2)
                end
        end
    end.

%% Words taken by the off-heap binaries of process_info(Pid, binary), each counted once.
-spec bin_words([{term(), non_neg_integer(), non_neg_integer()}]) -> non_neg_integer().
bin_words([]) -> 0;
bin_words(Bins) ->
    Bytes = lists:sum([Size || {_, Size, _} <- lists:ukeysort(1, Bins)]),
    (Bytes + 7) div 8.

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
