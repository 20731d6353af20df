%% petri_naive - the naive baseline the benchmarks compare petri with: per
%% genome, parse + compile:forms (default options) + load under a fresh module
%% name + call the function on every case + code:purge + code:delete.
%% No sandbox, no safety scan, no slots: the plain way to hot-load code.
%% run/2 scores f/1 on numeric cases; run_terms/3 any function on term cases.
-module(petri_naive).

-export([run/2, run_terms/3]).

%% Sources: genome modules exporting f/1; Cases: [{[In], Out}].
%% Returns the number of genomes evaluated and the wall time in microseconds.
-spec run([binary() | string()], [{[number()], number()}]) -> {non_neg_integer(), non_neg_integer()}.
run(Sources, Cases) ->
    T0 = erlang:monotonic_time(microsecond),
    {Count, _} = lists:foldl(fun(Src, {N, I}) ->
                                     _ = one(Src, Cases, I),
                                     {N + 1, I + 1}
                             end, {0, 0}, Sources),
    {Count, erlang:monotonic_time(microsecond) - T0}.

-spec one(binary() | string(), [{[number()], number()}], non_neg_integer()) -> ok | error.
one(Src, Cases, I) ->
    case load(Src, I) of
        {ok, Mod} ->
            _ = [catch Mod:f(X) || {[X], _} <- Cases],
            unload(Mod);
        error ->
            error
    end.

%% Sources: genome modules exporting Fun/N; Cases: [{Inputs, Expected}] with
%% N inputs each, a result passing when it is =:= Expected. Returns the
%% genomes evaluated, the wall time, each genome's time (microseconds, in
%% order) and the cases passed over all genomes.
-spec run_terms([binary() | string()], [{list(), term()}], atom()) ->
          {non_neg_integer(), non_neg_integer(), [non_neg_integer()], non_neg_integer()}.
run_terms(Sources, Cases, Fun) ->
    T0 = erlang:monotonic_time(microsecond),
    {Count, Times, Passed} =
        lists:foldl(fun(Src, {N, Ts, P}) ->
                            T1 = erlang:monotonic_time(microsecond),
                            Ok = one_terms(Src, Cases, Fun, N),
                            {N + 1, [erlang:monotonic_time(microsecond) - T1 | Ts], P + Ok}
                    end, {0, [], 0}, Sources),
    {Count, erlang:monotonic_time(microsecond) - T0, lists:reverse(Times), Passed}.

-spec one_terms(binary() | string(), [{list(), term()}], atom(), non_neg_integer()) ->
          non_neg_integer().
one_terms(Src, Cases, Fun, I) ->
    case load(Src, I) of
        {ok, Mod} ->
            Passed = length([ok || {In, Want} <- Cases, (catch apply(Mod, Fun, In)) =:= Want]),
            ok = unload(Mod),
            Passed;
        error ->
            0
    end.

%% Compiles and loads a source under a fresh module name per genome, as a
%% naive loader would make one.
-spec load(binary() | string(), non_neg_integer()) -> {ok, module()} | error.
load(Src, I) ->
    Mod = list_to_atom("petri_naive_" ++ integer_to_list(I)),
    {ok, Toks, _} = erl_scan:string(unicode:characters_to_list(Src)),
    Forms = [rename(F, Mod) || F <- forms(Toks, [], [])],
    case compile:forms(Forms) of
        {ok, Mod, Bin} ->
            {module, Mod} = code:load_binary(Mod, atom_to_list(Mod), Bin),
            {ok, Mod};
        _ ->
            error
    end.

-spec unload(module()) -> ok.
unload(Mod) ->
    _ = code:purge(Mod),
    true = code:delete(Mod),
    _ = code:purge(Mod),
    ok.

-spec forms([erl_scan:token()], [erl_scan:token()], [erl_parse:abstract_form()]) ->
          [erl_parse:abstract_form()].
forms([], _, Acc) ->
    lists:reverse(Acc);
forms([{dot, _} = D | T], Cur, Acc) ->
    {ok, F} = erl_parse:parse_form(lists:reverse([D | Cur])),
    forms(T, [], [F | Acc]);
forms([Tok | T], Cur, Acc) ->
    forms(T, [Tok | Cur], Acc).

-spec rename(erl_parse:abstract_form(), module()) -> erl_parse:abstract_form().
rename({attribute, L, module, _}, Mod) -> {attribute, L, module, Mod};
rename(F, _) -> F.
