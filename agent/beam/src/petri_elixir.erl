%% petri_elixir - the Elixir front end: a strict subset of Elixir translated
%% to Erlang abstract forms, which then take the Erlang path (safety scan,
%% rename, compile, load). The Elixir compiler never sees genome source:
%% it would run module-body code at compile time.
%%
%% The subset (anything else is "unsafe" with the construct and its line):
%%   defmodule Genome do ... end  holding only def/defp of simple variable
%%   arguments (no guards, no defaults, no pattern arguments); bodies made of
%%   integer/float literals, variables, `=` to a variable (rebinding allowed),
%%   + - * / (binary and unary), div/2, rem/2, abs/1, max/2, min/2, round/1,
%%   trunc/1, :math.fun(...) for the functions petri_safety allows, and calls
%%   to the module's own functions. Several defs of one name/arity are clauses.
%% Atoms: the source is parsed with existing_atoms_only, so identifiers must
%% already be atoms (the spec's function and variable names are made atoms,
%% as are the names Kernel defines); Erlang variables are named V1, V2, ...
-module(petri_elixir).

-export([available/0, to_forms/2]).

-define(MAX_SOURCE, 65536).
-define(MAX_NODES, 20000).
-define(MAX_DEPTH, 200).

-type forms() :: [erl_parse:abstract_form()].
-type env() :: #{next := pos_integer(), atom() => atom()}.   % Elixir var -> Erlang var
-type def() :: {def | defp, atom(), arity(), non_neg_integer(), list(), env(), term()}.

%% Whether Elixir is on the code path (the agent adds its ebin with -pa).
-spec available() -> boolean().
available() ->
    code:which('Elixir.Code') =/= non_existing.

-spec to_forms(petri_wire:spec(), binary()) ->
          {ok, [erl_parse:abstract_form()]} | petri_loader:error().
to_forms(Spec, Source) ->
    case available() of
        false -> {error, unsupported, <<"elixir is not installed on this host">>};
        true when byte_size(Source) > ?MAX_SOURCE ->
            err(parse_error, "source is ~b bytes, limit ~b", [byte_size(Source), ?MAX_SOURCE]);
        true -> quoted(Spec, Source)
    end.

-spec quoted(petri_wire:spec(), binary()) -> {ok, forms()} | petri_loader:error().
quoted(Spec, Source) ->
    %% Make the names a genome may use exist as atoms (spec names are trusted).
    _ = [code:ensure_loaded(M) || M <- ['Elixir.Kernel', 'Elixir.Kernel.SpecialForms', math]],
    _ = ['Genome', petri_spec:function(Spec) | petri_spec:vars(Spec)],
    Parsed = try 'Elixir.Code':string_to_quoted(Source, [{existing_atoms_only, true}])
             catch _:Why -> {error, {[], <<"parser failed: ">>, fmt("~0p", [Why])}}
             end,
    case Parsed of
        {ok, Q} ->
            case size_depth(Q, 1, {0, 0}) of
                {N, _} when N > ?MAX_NODES -> err(parse_error, "source has ~b nodes, limit ~b", [N, ?MAX_NODES]);
                {_, D} when D > ?MAX_DEPTH -> err(parse_error, "tree depth exceeds ~b", [?MAX_DEPTH]);
                _ -> translate(Q)
            end;
        {error, {Meta, Msg, Tok}} ->
            err(parse_error, "line ~p: ~ts~ts", [line(Meta), text(Msg), text(Tok)]);
        _ -> err(parse_error, "unparsable source", [])
    end.

-spec text(term()) -> iodata().
text(B) when is_binary(B) -> B;
text({A, B}) -> [text(A), text(B)];
text(L) when is_list(L) -> try unicode:characters_to_binary(L) catch _:_ -> <<>> end;
text(X) -> fmt("~0p", [X]).

-spec size_depth(term(), pos_integer(), {non_neg_integer(), non_neg_integer()}) -> {non_neg_integer(), non_neg_integer()}.
size_depth(T, D, {N, MaxD}) when is_tuple(T) ->
    lists:foldl(fun(E, Acc) -> size_depth(E, D + 1, Acc) end, {N + 1, max(D, MaxD)}, tuple_to_list(T));
size_depth(L, D, Acc) when is_list(L) ->
    lists:foldl(fun(E, A) -> size_depth(E, D, A) end, Acc, L);
size_depth(_, D, {N, MaxD}) -> {N + 1, max(D, MaxD)}.

-spec translate(term()) -> {ok, forms()} | petri_loader:error().
translate(Q) ->
    try
        Defs = module_defs(Q),
        {ok, forms(Defs)}
    catch
        throw:{unsafe, L, Why} -> err(unsafe, "line ~p: ~ts", [L, Why]);
        throw:{compile, L, Why} -> err(compile_error, "line ~p: ~ts", [L, Why])
    end.

-spec module_defs(term()) -> [def()].
module_defs({defmodule, M, [{'__aliases__', _, ['Genome']}, [{do, Body}]]}) ->
    _ = M,
    [def(D) || D <- block(Body)];
module_defs({defmodule, M, _}) ->
    throw({unsafe, line(M), "the module must be `defmodule Genome do ... end`"});
module_defs(Other) ->
    throw({unsafe, line(meta(Other)), "the source must be a single defmodule"}).

-spec block(term()) -> [term()].
block({'__block__', _, Es}) -> Es;
block(E) -> [E].

-spec def(term()) -> def().
def({Kind, M, [Head, [{do, Body}]]}) when Kind =:= def; Kind =:= defp ->
    {Name, Args} = head(Head, M),
    {Env, Pats} = lists:foldl(fun(A, {Env0, Ps}) ->
                                      {Env1, P} = arg(A, Env0, M),
                                      {Env1, [P | Ps]}
                              end, {#{next => 1}, []}, Args),
    {Kind, Name, length(Args), line(M), lists:reverse(Pats), Env, Body};
def(Other) ->
    throw({unsafe, line(meta(Other)), "only def and defp (with a do block) are allowed in the module"}).

-spec head(term(), list()) -> {atom(), list()}.
head({Name, _, Args}, _) when is_atom(Name), Name =/= 'when', is_list(Args) -> {Name, Args};
head({Name, _, Ctx}, _) when is_atom(Name), Name =/= 'when', is_atom(Ctx) -> {Name, []};
head(_, M) -> throw({unsafe, line(M), "function heads must be name(var, ...) without guards"}).

-spec arg(term(), env(), list()) -> {env(), erl_parse:abstract_expr()}.
arg({'_', M, Ctx}, Env, _) when is_atom(Ctx) -> {Env, {var, line(M), '_'}};
arg({Name, M, Ctx}, Env, _) when is_atom(Name), is_atom(Ctx) ->
    case Env of
        #{Name := V} -> {Env, {var, line(M), V}};
        _ -> bind(Name, Env, line(M))
    end;
arg(_, _, M) -> throw({unsafe, line(M), "arguments must be plain variables"}).

-spec bind(atom(), env(), non_neg_integer()) -> {env(), erl_parse:abstract_expr()}.
bind(Name, #{next := N} = Env, L) ->
    V = list_to_atom("V" ++ integer_to_list(N)),   % V1..Vk: a small, reused set
    {Env#{Name => V, next => N + 1}, {var, L, V}}.

-spec forms([def()]) -> forms().
%% Groups clauses by name/arity (in first-seen order) and emits the module.
forms(Defs) ->
    Keys = lists:usort([{N, A} || {_, N, A, _, _, _, _} <- Defs]),
    Locals = Keys,
    Exports = lists:usort([{N, A} || {def, N, A, _, _, _, _} <- Defs]),
    Order = dedup([{N, A} || {_, N, A, _, _, _, _} <- Defs], []),
    Funs = [begin
                Cs = [{clause, L, Ps, [], body(block(Body), Env, Locals)}
                      || {_, N1, A1, L, Ps, Env, Body} <- Defs, {N1, A1} =:= {N, A}],
                {clause, L0, _, _, _} = hd(Cs),
                {function, L0, N, A, Cs}
            end || {N, A} <- Order],
    [{attribute, 1, module, genome}, {attribute, 1, export, Exports} | Funs].

-spec dedup([{atom(), arity()}], [{atom(), arity()}]) -> [{atom(), arity()}].
dedup([], Acc) -> lists:reverse(Acc);
dedup([K | T], Acc) ->
    case lists:member(K, Acc) of
        true -> dedup(T, Acc);
        false -> dedup(T, [K | Acc])
    end.

-spec body([term()], env(), [{atom(), arity()}]) -> [erl_parse:abstract_expr()].
body([], _, _) -> throw({unsafe, 0, "empty function body"});
body([E], Env, Ls) -> [expr(E, Env, Ls)];
body([{'=', M, [{Name, VM, Ctx}, Rhs]} | T], Env, Ls) when is_atom(Name), is_atom(Ctx) ->
    R = expr(Rhs, Env, Ls),
    {Env1, Var} = bind(Name, Env, line(VM)),
    [{match, line(M), Var, R} | body(T, Env1, Ls)];
body([E | T], Env, Ls) ->
    [expr(E, Env, Ls) | body(T, Env, Ls)].

-define(BINOPS, ['+', '-', '*', '/']).
-define(KERNEL, [{abs, 1}, {max, 2}, {min, 2}, {round, 1}, {trunc, 1}]).

-spec expr(term(), env(), [{atom(), arity()}]) -> erl_parse:abstract_expr().
expr(I, _, _) when is_integer(I) -> {integer, 0, I};
expr(F, _, _) when is_float(F) -> {float, 0, F};
expr({Name, M, Ctx}, Env, Ls) when is_atom(Name), is_atom(Ctx) ->
    case Env of
        #{Name := V} -> {var, line(M), V};
        _ ->
            case lists:member({Name, 0}, Ls) of
                true -> {call, line(M), {atom, line(M), Name}, []};
                false -> throw({compile, line(M), fmt("undefined variable ~ts", [Name])})
            end
    end;
expr({'__block__', _, [E]}, Env, Ls) ->
    expr(E, Env, Ls);
expr({Op, M, [A, B]}, Env, Ls) when Op =:= '+'; Op =:= '-'; Op =:= '*'; Op =:= '/';
                                    Op =:= 'div'; Op =:= 'rem' ->
    {op, line(M), Op, expr(A, Env, Ls), expr(B, Env, Ls)};
expr({Op, M, [A]}, Env, Ls) when Op =:= '-'; Op =:= '+' ->
    {op, line(M), Op, expr(A, Env, Ls)};
expr({{'.', _, [math, F]}, M, Args}, Env, Ls) when is_atom(F), is_list(Args) ->
    case petri_safety:allowed(math, F, length(Args)) of
        true -> {call, line(M), {remote, line(M), {atom, line(M), math}, {atom, line(M), F}},
                 [expr(A, Env, Ls) || A <- Args]};
        false -> throw({unsafe, line(M), fmt(":math.~ts/~b is not allowed", [F, length(Args)])})
    end;
expr({{'.', _, [Mod, F]}, M, Args}, _, _) when is_atom(F), is_list(Args) ->
    throw({unsafe, line(M), fmt("call to ~ts.~ts/~b is not allowed", [mod_name(Mod), F, length(Args)])});
expr({Name, M, Args}, Env, Ls) when is_atom(Name), is_list(Args) ->
    A = length(Args),
    case lists:member({Name, A}, Ls) orelse lists:member({Name, A}, ?KERNEL) of
        true -> {call, line(M), {atom, line(M), Name}, [expr(X, Env, Ls) || X <- Args]};
        false -> throw({unsafe, line(M), fmt("call to ~ts/~b is not allowed", [Name, A])})
    end;
expr(Other, _, _) ->
    throw({unsafe, line(meta(Other)), fmt("construct ~0P is not allowed", [Other, 4])}).

-spec mod_name(term()) -> iodata().
mod_name({'__aliases__', _, Parts}) -> lists:join(".", [atom_to_list(P) || P <- Parts, is_atom(P)]);
mod_name(A) when is_atom(A) -> [$: | atom_to_list(A)];
mod_name(_) -> "(expression)".

-spec meta(term()) -> list().
meta({_, M, _}) when is_list(M) -> M;
meta(_) -> [].

-spec line(term()) -> non_neg_integer().
line(M) when is_list(M) ->
    case lists:keyfind(line, 1, M) of
        {line, L} when is_integer(L) -> L;
        _ -> 0
    end;
line(_) -> 0.

-spec fmt(io:format(), [term()]) -> binary().
fmt(F, A) -> iolist_to_binary(io_lib:format(F, A)).

-spec err(petri_wire:status(), io:format(), [term()]) -> petri_loader:error().
err(Status, F, A) -> {error, Status, fmt(F, A)}.
