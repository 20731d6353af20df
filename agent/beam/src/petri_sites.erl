%% petri_sites - the sites of a module for petri_prog: every expression of
%% every clause body with its environment and type, get/put by site, and the
%% variable helpers (free variables, renaming, substitution).
%%
%% A site is {Function, Clause, BodyExpr, Path}: Path indexes kids/2 from
%% the body expression down. The arguments of the entry function's call of
%% itself are not children (a structural recursion keeps its argument).
-module(petri_sites).

-export([with_locals/2, sites/2, head_env/4, head_names/3, tchildren/2, tchildren_any/1,
         put/3, last_expr/4, clauses/1, set_clauses/2, arg_type/2, free_vars/1, vars_in/1,
         rename/2, subst/2, local_calls/1, prim_of/1]).
-export_type([parent/0, site/0, tsite/0]).

-define(A, 1).

-type node_() :: tuple().
-type ctx() :: petri_gen:ctx().
%% A module's functions and the index of the entry function among them.
-type parent() :: {[tuple()], pos_integer()}.
-type site() :: {pos_integer(), pos_integer(), pos_integer(), [pos_integer()]}.
-type tsite() :: {site(), node_(), petri_gen:env(), petri_types:type()}.

%% The condition and the two values of a conditional (the primitive "if"),
%% or none for another case expression.
-spec if_parts(node_()) -> none | [node_()].
if_parts({'case', _, C, [{clause, _, [{atom, _, true}], [], [X]},
                         {clause, _, [{atom, _, false}], [], [Y]}]}) -> [C, X, Y];
if_parts(_) -> none.

-spec prim_of(node_()) -> none | {petri_spec:prim(), [node_()]}.
prim_of({op, _, Op, L, R}) -> {{binop, Op}, [L, R]};
prim_of({op, _, Op, X}) when Op =/= '-' -> {{unop, Op}, [X]};
prim_of({'case', _, _, _} = N) ->
    case if_parts(N) of
        none -> none;
        Parts -> {{form, 'if'}, Parts}
    end;
prim_of({call, _, {atom, _, F}, Args}) -> {{fn, none, F, length(Args)}, Args};
prim_of({call, _, {remote, _, {atom, _, M}, {atom, _, F}}, Args}) -> {{fn, M, F, length(Args)}, Args};
prim_of(_) -> none.

%% The context with the signatures of the module's other functions: argument
%% types as at their first call from the entry function, the result as
%% their first clause's value (any where nothing tells).
-spec with_locals(parent(), ctx()) -> ctx().
with_locals({Funs, K} = P, Ctx0) ->
    Ctx = maps:remove(locals, Ctx0),
    Calls = [{Call, Env} || {clause, _, Ps, _, Body} <- clauses(P),
                            Env <- [head_env(P, entry, Ps, Ctx)], Call <- local_call_nodes(Body)],
    Locals = [{{fn, none, Name, Ar}, local_sig(F, Ar, Calls, Ctx)}
              || {FI, {function, _, Name, Ar, _} = F} <- enum(Funs), FI =/= K],
    Ctx#{locals => Locals}.

-spec local_sig(tuple(), arity(), [{node_(), petri_gen:env()}], ctx()) -> petri_types:sig().
local_sig({function, _, Name, Ar, [{clause, _, Ps, _, Body} | _]}, Ar, Calls, Ctx) ->
    ArgTs = case [Args || {{call, _, {atom, _, N}, Args}, _} <- Calls, N =:= Name,
                          length(Args) =:= Ar] of
                [Args | _] ->
                    {_, Env} = hd([C || {{call, _, {atom, _, N}, A}, _} = C <- Calls, N =:= Name,
                                        length(A) =:= Ar]),
                    [petri_gen:infer(A, Env, Ctx) || A <- Args];
                [] -> [any || _ <- Ps]
            end,
    Env2 = dedup_env(lists:append([petri_types:pattern_env(Pt, T) || {Pt, T} <- lists:zip(Ps, ArgTs)])),
    {ArgTs, petri_gen:infer(lists:last(Body), Env2, Ctx)}.

-spec local_call_nodes(term()) -> [node_()].
local_call_nodes({call, _, {atom, _, _}, Args} = C) -> [C | local_call_nodes(Args)];
local_call_nodes(T) when is_tuple(T) -> local_call_nodes(tuple_to_list(T));
local_call_nodes(L) when is_list(L) -> lists:append([local_call_nodes(E) || E <- L]);
local_call_nodes(_) -> [].

-spec sites(parent(), ctx()) -> [tsite()].
sites({Funs, _} = P, Ctx0) ->
    Ctx = with_locals(P, Ctx0),
    lists:append(
      [lists:append(
         [begin
              Env = head_env(P, FI, Ps, Ctx),
              N = length(Body),
              lists:append([walk(E, {FI, CI, EI, []}, Env, body_type(P, FI, EI, N, Ctx), Ctx)
                            || {EI, E} <- enum(Body)])
          end || {CI, {clause, _, Ps, _, Body}} <- enum(Cs)])
       || {FI, {function, _, _, _, Cs}} <- enum(Funs)]).

-spec body_type(parent(), pos_integer(), pos_integer(), pos_integer(), ctx()) -> petri_types:type().
body_type({_, K}, K, N, N, #{entry := {_, R}}) -> R;
body_type(P, FI, N, N, Ctx) ->
    case local_type(P, FI, Ctx) of
        {_, R} -> R;
        none -> any
    end;
body_type(_, _, _, _, _) -> any.

-spec local_type(parent(), pos_integer(), ctx()) -> none | petri_types:sig().
local_type({Funs, _}, FI, Ctx) ->
    {function, _, Name, Ar, _} = lists:nth(FI, Funs),
    case lists:keyfind({fn, none, Name, Ar}, 1, maps:get(locals, Ctx, [])) of
        {_, Sig} -> Sig;
        false -> none
    end.

%% The variables a clause head binds, typed when the clause is the entry's.
-spec head_env(parent(), pos_integer() | entry, [node_()], ctx()) -> petri_gen:env().
head_env({_, K}, FI, Ps, #{entry := {ArgTs, _}}) when FI =:= K; FI =:= entry ->
    dedup_env(lists:append([petri_types:pattern_env(Pt, T) || {Pt, T} <- lists:zip(Ps, ArgTs)]));
head_env(P, FI, Ps, Ctx) ->
    Ts = case local_type(P, FI, Ctx) of
             {ArgTs, _} when length(ArgTs) =:= length(Ps) -> ArgTs;
             _ -> [any || _ <- Ps]
         end,
    dedup_env(lists:append([petri_types:pattern_env(Pt, T) || {Pt, T} <- lists:zip(Ps, Ts)])).

-spec dedup_env([{atom(), petri_types:type()}]) -> petri_gen:env().
dedup_env(L) ->
    lists:reverse(lists:foldl(fun({V, T}, Acc) ->
                                      case lists:keymember({var, ?A, V}, 1, Acc) of
                                          true -> Acc;
                                          false -> [{{var, ?A, V}, T} | Acc]
                                      end
                              end, [], L)).

-spec head_names(parent(), pos_integer(), pos_integer()) -> [atom()].
head_names({Funs, _}, FI, CI) ->
    {function, _, _, _, Cs} = lists:nth(FI, Funs),
    {clause, _, Ps, _, _} = lists:nth(CI, Cs),
    [V || {V, _} <- lists:append([petri_types:pattern_env(Pt, any) || Pt <- Ps])].

-spec walk(node_(), site(), petri_gen:env(), petri_types:type(), ctx()) -> [tsite()].
walk(N, {F, C, E, Path} = Site, Env, Exp, Ctx) ->
    T0 = petri_gen:infer(N, Env, Ctx),
    T = case {T0, Exp} of
            {{fn, _, _}, {fn, _, _}} -> Exp;
            {any, _} -> Exp;
            {{list, _}, {list, _}} -> case petri_types:has_any(T0) of true -> Exp; false -> T0 end;
            {{tuple, _}, {tuple, _}} -> case petri_types:has_any(T0) of true -> Exp; false -> T0 end;
            _ -> T0
        end,
    Here = case N of
               {match, _, _, _} -> [];
               _ -> [{Site, N, Env, T}]
           end,
    Here ++ lists:append([walk(Ch, {F, C, E, Path ++ [I]}, ChEnv, ChExp, Ctx)
                          || {I, {Ch, ChEnv, ChExp}} <- enum(child_specs(N, Env, Exp, Ctx))]).

%% The children of a node (those of tchildren/2) with their environments and
%% required types.
-spec child_specs(node_(), petri_gen:env(), petri_types:type(), ctx()) ->
          [{node_(), petri_gen:env(), petri_types:type()}].
child_specs(N, Env, Exp, Ctx) ->
    case tchildren(N, Ctx) of
        [] -> [];
        Chs ->
            case N of
                {'fun', _, {clauses, [{clause, _, Ps, [], Body}]}} ->
                    {PTs, R} = case Exp of
                                   {fn, PT, R0} when length(PT) =:= length(Ps) -> {PT, R0};
                                   _ -> {[any || _ <- Ps], any}
                               end,
                    Env2 = dedup_env(lists:append([petri_types:pattern_env(Pt, T)
                                                   || {Pt, T} <- lists:zip(Ps, PTs)])) ++ Env,
                    Last = length(Body),
                    [{B, Env2, case I of Last -> R; _ -> any end} || {I, B} <- enum(Body)];
                {tuple, _, _} ->
                    case Exp of
                        {tuple, Ts} when length(Ts) =:= length(Chs) ->
                            [{Ch, Env, T} || {Ch, T} <- lists:zip(Chs, Ts)];
                        _ -> [{Ch, Env, any} || Ch <- Chs]
                    end;
                {cons, _, _, _} ->
                    [H, T] = Chs,
                    case Exp of
                        {list, E} -> [{H, Env, E}, {T, Env, Exp}];
                        _ -> [{H, Env, any}, {T, Env, any}]
                    end;
                _ ->
                    Types = case prim_of(N) of
                                {Prim, Args} -> petri_gen:param_types(Prim, Args, Env, Ctx);
                                none -> [any || _ <- Chs]
                            end,
                    [{Ch, Env, T} || {Ch, T} <- lists:zip(Chs, Types)]
            end
    end.

-spec tchildren(node_(), ctx()) -> [node_()].
tchildren(N, #{fn := F, ar := Ar}) -> kids(N, {F, Ar}).

%% The sub-expressions of a node; none for a call of Self (the entry function).
-spec kids(node_(), {atom(), arity()} | none) -> [node_()].
kids({op, _, _, L, R}, _) -> [L, R];
kids({op, _, _, X}, _) -> [X];
kids({call, _, {atom, _, F}, Args}, {F, Ar}) when length(Args) =:= Ar -> [];
kids({call, _, _, Args}, _) -> Args;
kids({cons, _, H, T}, _) -> [H, T];
kids({tuple, _, Es}, _) -> Es;
kids({'fun', _, {clauses, [{clause, _, _, [], Body}]}}, _) -> Body;
kids({match, _, _, E}, _) -> [E];
kids({'case', _, _, _} = N, _) ->
    case if_parts(N) of
        none -> [];
        Parts -> Parts
    end;
kids(_, _) -> [].

-spec set_tchildren(node_(), [node_()]) -> node_().
set_tchildren({op, A, Op, _, _}, [L, R]) -> {op, A, Op, L, R};
set_tchildren({op, A, Op, _}, [X]) -> {op, A, Op, X};
set_tchildren({call, A, F, _}, Args) -> {call, A, F, Args};
set_tchildren({cons, A, _, _}, [H, T]) -> {cons, A, H, T};
set_tchildren({tuple, A, _}, Es) -> {tuple, A, Es};
set_tchildren({'fun', A, {clauses, [{clause, CA, Ps, [], _}]}}, Body) ->
    {'fun', A, {clauses, [{clause, CA, Ps, [], Body}]}};
set_tchildren({match, A, P, _}, [E]) -> {match, A, P, E};
set_tchildren({'case', A, _, [{clause, A1, P1, [], _}, {clause, A2, P2, [], _}]}, [C, X, Y]) ->
    {'case', A, C, [{clause, A1, P1, [], [X]}, {clause, A2, P2, [], [Y]}]}.

-spec put(parent(), site(), node_()) -> parent().
put({Funs, K}, {FI, CI, EI, Path}, New) ->
    {function, FA, Name, Ar, Cs} = lists:nth(FI, Funs),
    {clause, A, Ps, Gs, Body} = lists:nth(CI, Cs),
    Body2 = setnth(EI, Body, put_at(lists:nth(EI, Body), Path, New)),
    Cs2 = setnth(CI, Cs, {clause, A, Ps, Gs, Body2}),
    {setnth(FI, Funs, {function, FA, Name, Ar, Cs2}), K}.

-spec put_at(node_(), [pos_integer()], node_()) -> node_().
put_at(_, [], New) -> New;
put_at(N, [I | T], New) ->
    Cs = tchildren_any(N),
    set_tchildren(N, setnth(I, Cs, put_at(lists:nth(I, Cs), T, New))).

%% tchildren/2 without the self-call rule: a path never enters such a call.
-spec tchildren_any(node_()) -> [node_()].
tchildren_any(N) -> kids(N, none).

-spec last_expr(parent(), pos_integer(), pos_integer(), pos_integer()) -> boolean().
last_expr({Funs, _}, FI, CI, EI) ->
    {function, _, _, _, Cs} = lists:nth(FI, Funs),
    {clause, _, _, _, Body} = lists:nth(CI, Cs),
    EI =:= length(Body).

-spec clauses(parent()) -> [tuple()].
clauses({Funs, K}) ->
    {function, _, _, _, Cs} = lists:nth(K, Funs),
    Cs.

-spec set_clauses(parent(), [tuple()]) -> parent().
set_clauses({Funs, K}, Cs) ->
    {function, A, F, Ar, _} = lists:nth(K, Funs),
    {setnth(K, Funs, {function, A, F, Ar, Cs}), K}.

-spec arg_type(pos_integer(), ctx()) -> petri_types:type().
arg_type(I, #{entry := {ArgTs, _}}) -> lists:nth(I, ArgTs).

%% ---- variables -------------------------------------------------------------------

%% Variables an expression uses that it does not bind itself (in a fun head).
-spec free_vars(node_()) -> [atom()].
free_vars(N) -> dedup(free(N, [])).

-spec free(term(), [atom()]) -> [atom()].
free({var, _, '_'}, _) -> [];
free({var, _, V}, Bound) ->
    case lists:member(V, Bound) of
        true -> [];
        false -> [V]
    end;
free({'fun', _, {clauses, Cs}}, Bound) ->
    lists:append([free({Gs, Body}, [V || {V, _} <- lists:append(
                                                      [petri_types:pattern_env(P, any) || P <- Ps])]
                       ++ Bound)
                  || {clause, _, Ps, Gs, Body} <- Cs]);
free(T, Bound) when is_tuple(T) -> free(tuple_to_list(T), Bound);
free(L, Bound) when is_list(L) -> lists:append([free(E, Bound) || E <- L]);
free(_, _) -> [].

-spec vars_in(term()) -> [atom()].
vars_in({var, _, V}) -> [V];
vars_in(T) when is_tuple(T) -> vars_in(tuple_to_list(T));
vars_in(L) when is_list(L) -> lists:append([vars_in(E) || E <- L]);
vars_in(_) -> [].

-spec rename(term(), [{atom(), atom()}]) -> term().
rename({var, A, V}, Map) ->
    case lists:keyfind(V, 1, Map) of
        {_, V2} -> {var, A, V2};
        false -> {var, A, V}
    end;
rename(T, Map) when is_tuple(T) -> list_to_tuple([rename(E, Map) || E <- tuple_to_list(T)]);
rename(L, Map) when is_list(L) -> [rename(E, Map) || E <- L];
rename(X, _) -> X.

%% Free occurrences of variables replaced by expressions.
-spec subst(term(), [{atom(), node_()}]) -> term().
subst({var, _, V} = N, Map) ->
    case lists:keyfind(V, 1, Map) of
        {_, E} -> E;
        false -> N
    end;
subst({'fun', A, {clauses, Cs}}, Map) ->
    {'fun', A, {clauses, [begin
                              Bound = [V || {V, _} <- lists:append(
                                                       [petri_types:pattern_env(P, any) || P <- Ps])],
                              M2 = [X || {V, _} = X <- Map, not lists:member(V, Bound)],
                              {clause, CA, Ps, subst(Gs, M2), subst(Body, M2)}
                          end || {clause, CA, Ps, Gs, Body} <- Cs]}};
subst(T, Map) when is_tuple(T) -> list_to_tuple([subst(E, Map) || E <- tuple_to_list(T)]);
subst(L, Map) when is_list(L) -> [subst(E, Map) || E <- L];
subst(X, _) -> X.

-spec local_calls(term()) -> [{atom(), arity()}].
local_calls({call, _, {atom, _, F}, Args}) -> [{F, length(Args)} | local_calls(Args)];
local_calls({'fun', _, {function, F, A}}) when is_atom(F) -> [{F, A}];
local_calls(T) when is_tuple(T) -> local_calls(tuple_to_list(T));
local_calls(L) when is_list(L) -> lists:append([local_calls(E) || E <- L]);
local_calls(_) -> [].

%% ---- helpers -------------------------------------------------------------------------

-spec enum([T]) -> [{pos_integer(), T}].
enum(L) -> lists:zip(lists:seq(1, length(L)), L).

-spec setnth(pos_integer(), [T], T) -> [T].
setnth(1, [_ | T], X) -> [X | T];
setnth(N, [H | T], X) -> [H | setnth(N - 1, T, X)].

-spec dedup([T]) -> [T].
dedup(L) ->
    lists:reverse(lists:foldl(fun(X, Acc) ->
                                      case lists:member(X, Acc) of
                                          true -> Acc;
                                          false -> [X | Acc]
                                      end
                              end, [], L)).
