%% petri_gen - typed expressions over a typed primitive set: the type of an
%% expression in an environment, and random expressions of a given type
%% (variables, literals, primitive calls, funs for fun-typed arguments).
%% Randomness is threaded as rand:state(); the same state gives the same tree.
-module(petri_gen).

-export([infer/3, gen/5, terminal/4, literal/3, call_sig/2, param_types/4, fresh_var/2,
         lambda_with/4, node/2, node/3, bind_free/4, element_arg/3]).
-export_type([env/0, ctx/0]).

-define(A, 1).

-type node_() :: tuple().
-type rs() :: rand:state().
-type type() :: petri_types:type().
%% Terminals in scope: variables (and, in recursion templates, the recursive
%% call) with their types.
-type env() :: [{node_(), type()}].
-type ctx() :: #{spec := petri_wire:spec(), entry := petri_types:sig(),
                 prims := [{petri_spec:prim(), petri_types:sig()}], fn := atom(),
                 ar := arity(), guard => boolean(),
                 locals => [{petri_spec:prim(), petri_types:sig()}]}.

%% Signatures of calls the templates introduce, beside the spec's primitives.
-spec builtin() -> [{petri_spec:prim(), petri_types:sig()}].
builtin() ->
    T = {tv, <<"T">>},
    Acc = {tv, <<"Acc">>},
    [{{fn, lists, foldl, 3}, {[{fn, [T, Acc], Acc}, Acc, {list, T}], Acc}}].

%% The signature of a primitive call, or none.
-spec call_sig(petri_spec:prim(), ctx()) -> none | petri_types:sig().
call_sig(P, #{prims := Prims} = Ctx) ->
    Alt = case P of
              {fn, none, F, A} -> {fn, erlang, F, A};
              {fn, erlang, F, A} -> {fn, none, F, A};
              _ -> P
          end,
    case [S || {Q, S} <- Prims ++ builtin() ++ maps:get(locals, Ctx, []), Q =:= P orelse Q =:= Alt] of
        [S | _] -> S;
        [] -> none
    end.

%% The type of an expression (any where it cannot tell).
-spec infer(node_(), env(), ctx()) -> type().
infer({var, _, V}, Env, _) ->
    case [T || {{var, _, W}, T} <- Env, W =:= V] of
        [T | _] -> T;
        [] -> any
    end;
infer({integer, _, _}, _, _) -> int;
infer({char, _, _}, _, _) -> int;
infer({float, _, _}, _, _) -> float;
infer({atom, _, B}, _, _) when is_boolean(B) -> bool;
infer({atom, _, _}, _, _) -> atom;
infer({string, _, _}, _, _) -> {list, int};
infer({nil, _}, _, _) -> {list, any};
infer({cons, _, H, T}, Env, Ctx) ->
    case {infer(H, Env, Ctx), infer(T, Env, Ctx)} of
        {any, {list, E}} -> {list, E};
        {E, _} -> {list, E}
    end;
infer({bin, _, _}, _, _) -> binary;
infer({map, _, _}, _, _) -> map;
infer({map, _, _, _}, _, _) -> map;
infer({tuple, _, Es}, Env, Ctx) -> {tuple, [infer(E, Env, Ctx) || E <- Es]};
infer({'fun', _, {clauses, [{clause, _, Ps, _, Body}]}}, Env, Ctx) ->
    Env2 = lists:append([[{{var, ?A, V}, any} || {V, _} <- petri_types:pattern_env(P, any)]
                         || P <- Ps]) ++ Env,
    {fn, [any || _ <- Ps], infer(lists:last(Body), Env2, Ctx)};
infer({match, _, _, E}, Env, Ctx) -> infer(E, Env, Ctx);
infer({'case', _, _, [{clause, _, [{atom, _, true}], [], [X]},
                      {clause, _, [{atom, _, false}], [], [Y]}]}, Env, Ctx) ->
    %% the value known all through ([] is list(any)), else the first
    TX = infer(X, Env, Ctx),
    case petri_types:has_any(TX) of
        true ->
            TY = infer(Y, Env, Ctx),
            case petri_types:has_any(TY) of
                true -> TX;
                false -> TY
            end;
        false -> TX
    end;
infer({op, _, '-', X}, Env, Ctx) -> infer(X, Env, Ctx);
infer({op, _, Op, X}, Env, Ctx) -> call_type({unop, Op}, [X], Env, Ctx);
infer({op, _, Op, L, R}, Env, Ctx) -> call_type({binop, Op}, [L, R], Env, Ctx);
infer({call, _, {atom, _, F}, Args}, _Env, #{fn := F, ar := Ar, entry := {_, R}})
  when length(Args) =:= Ar ->
    R;
infer({call, _, {atom, _, F}, Args}, Env, Ctx) ->
    call_type({fn, none, F, length(Args)}, Args, Env, Ctx);
infer({call, _, {remote, _, {atom, _, M}, {atom, _, F}}, Args}, Env, Ctx) ->
    call_type({fn, M, F, length(Args)}, Args, Env, Ctx);
infer(_, _, _) -> any.

-spec call_type(petri_spec:prim(), [node_()], env(), ctx()) -> type().
call_type(P, Args, Env, Ctx) ->
    case call_sig(P, Ctx) of
        none -> any;
        Sig ->
            {_, R, S} = instantiate(Sig, Args, Env, Ctx),
            petri_types:ground(petri_types:apply(R, S))
    end.

%% The types a call's arguments must have, given the other arguments.
-spec param_types(petri_spec:prim(), [node_()], env(), ctx()) -> [type()].
param_types(P, Args, Env, Ctx) ->
    case call_sig(P, Ctx) of
        none -> [any || _ <- Args];
        Sig ->
            {As, _, S} = instantiate(Sig, Args, Env, Ctx),
            [petri_types:ground(petri_types:apply(A, S)) || A <- As]
    end.

-spec instantiate(petri_types:sig(), [node_()], env(), ctx()) ->
          {[type()], type(), petri_types:subst()}.
instantiate(Sig, Args, Env, Ctx) ->
    {As, R} = petri_types:fresh_sig(Sig, <<"c">>),
    S = lists:foldl(fun({A, Arg}, S0) ->
                            case petri_types:unify(A, infer(Arg, Env, Ctx), S0) of
                                {ok, S1} -> S1;
                                error -> S0
                            end
                    end, [], lists:zip(As, Args)),
    {As, R, S}.

%% ---- generation ------------------------------------------------------------------

%% A random expression of type T, at most Depth calls deep ("grow").
-spec gen(type(), non_neg_integer(), env(), ctx(), rs()) -> {node_(), rs()}.
gen({fn, Ps, R}, Depth, Env, Ctx, S) ->
    lambda(Ps, R, max(Depth, 1) - 1, Env, Ctx, S);
gen(T, 0, Env, Ctx, S) ->
    terminal(T, Env, Ctx, S);
gen({tuple, Ts} = T, Depth, Env, Ctx, S0) ->
    %% a tuple of known element types: built from its elements (three
    %% times in six, four when no primitive gives the type), else a
    %% terminal (two in six) or a call (one in six)
    Cands = candidates(T, Ctx),
    {R, S1} = rand:uniform_s(6, S0),
    if
        R =< 2 -> terminal(T, Env, Ctx, S1);
        R =< 3, Cands =/= [] -> call(Cands, Depth, Env, Ctx, S1);
        true -> tuple([fun(Sx) -> gen(E, Depth - 1, Env, Ctx, Sx) end || E <- Ts], S1)
    end;
gen(T, Depth, Env, Ctx, S0) ->
    Cands = candidates(T, Ctx),
    {R, S1} = rand:uniform_s(3, S0),
    case Cands =:= [] orelse R =:= 1 of
        true -> terminal(T, Env, Ctx, S1);
        false -> call(Cands, Depth, Env, Ctx, S1)
    end.

%% A call of one of Cands (candidates/2) over arguments Depth - 1 deep. The
%% condition of an "if" mentions a variable when one of six draws does
%% (case 3 < 1 of ... is one branch). The elements a list form compares
%% with and puts in (all its arguments but the list) are terminals, as
%% PushGP's instructions take theirs from the top of a stack: a literal
%% or an input, most often (replace($\s, $\n, S), indexof(0, L)).
-spec call([{petri_spec:prim(), [type()], petri_types:subst()}], pos_integer(), env(), ctx(),
           rs()) -> {node_(), rs()}.
call(Cands, Depth, Env, Ctx, S1) ->
    {{P, As, Sub}, S2} = pick(Cands, S1),
    {Sub2, S3} = bind_free(As, Sub, Env, S2),
    Names = [V || {{var, _, V}, _} <- Env],
    Last = length(As),
    {Args, S4} = lists:foldl(
                   fun(A, {Acc, Sx}) ->
                           At = petri_types:ground(petri_types:apply(A, Sub2)),
                           D = case element_arg(P, length(Acc) + 1, Last) of
                                   true -> 0;
                                   false -> Depth - 1
                               end,
                           Gen = fun(Sz) -> gen(At, D, Env, Ctx, Sz) end,
                           {N, Sy} = case {P, Acc} of
                                         {{form, 'if'}, []} -> body_using(Names, 6, Gen, Sx);
                                         _ -> Gen(Sx)
                                     end,
                           {[N | Acc], Sy}
                   end, {[], S3}, As),
    {node(P, lists:reverse(Args), Env), S4}.

%% Whether argument I of Last is an element a list form compares with or
%% puts in (generated as a terminal).
-spec element_arg(petri_spec:prim(), pos_integer(), pos_integer()) -> boolean().
element_arg({form, F}, I, Last) when F =/= 'if' -> I < Last;
element_arg(_, _, _) -> false.

%% A tuple expression of the elements the generators give, in order.
-spec tuple([fun((rs()) -> {node_(), rs()})], rs()) -> {node_(), rs()}.
tuple(Gens, S0) ->
    {Es, S1} = lists:foldl(fun(G, {Acc, Sx}) ->
                                   {E, Sy} = G(Sx),
                                   {[E | Acc], Sy}
                           end, {[], S0}, Gens),
    {{tuple, ?A, lists:reverse(Es)}, S1}.

-spec lambda([type()], type(), non_neg_integer(), env(), ctx(), rs()) -> {node_(), rs()}.
lambda(Ps, R, Depth, Env, Ctx, S0) ->
    lambda_with(Ps, Env, fun(Env2, Names, Sx) ->
                                 body_using(Names, 6, fun(Sy) -> gen(R, Depth, Env2, Ctx, Sy) end,
                                            Sx)
                         end, S0).

%% A fun body from Gen that mentions a parameter, or Gen's last of Tries: a
%% fun that ignores its arguments is a constant (fun(X) -> 7 end as a filter
%% keeps all or nothing).
-spec body_using([atom()], pos_integer(), fun((rs()) -> {node_(), rs()}), rs()) ->
          {node_(), rs()}.
body_using(Names, Tries, Gen, S0) ->
    {N, S1} = Gen(S0),
    case Tries =:= 1 orelse mentions(N, Names) of
        true -> {N, S1};
        false -> body_using(Names, Tries - 1, Gen, S1)
    end.

%% Whether a tree mentions one of Names (fresh names: never shadowed).
-spec mentions(term(), [atom()]) -> boolean().
mentions({var, _, V}, Names) -> lists:member(V, Names);
mentions(T, Names) when is_tuple(T) -> mentions(tuple_to_list(T), Names);
mentions(L, Names) when is_list(L) -> lists:any(fun(X) -> mentions(X, Names) end, L);
mentions(_, _) -> false.

%% A fun of the given parameter types over a body built by
%% BodyFun(Env + parameters, parameter names, S).
-spec lambda_with([type()], env(), fun((env(), [atom()], rs()) -> {node_(), rs()}), rs()) ->
          {node_(), rs()}.
lambda_with(Ps, Env, BodyFun, S0) ->
    Names = fresh_vars(length(Ps), Env),
    Env2 = [{{var, ?A, N}, T} || {N, T} <- lists:zip(Names, Ps)] ++ Env,
    {Body, S1} = BodyFun(Env2, Names, S0),
    {{'fun', ?A, {clauses, [{clause, ?A, [{var, ?A, N} || N <- Names], [], [Body]}]}}, S1}.

-spec fresh_vars(non_neg_integer(), env()) -> [atom()].
fresh_vars(N, Env) ->
    lists:reverse(lists:foldl(fun(_, Acc) ->
                                      [fresh_var(Acc, Env) | Acc]
                              end, [], lists:seq(1, N))).

%% A variable name not among Taken nor bound in Env: V1, V2, ...
-spec fresh_var([atom()], env()) -> atom().
fresh_var(Taken, Env) ->
    Used = Taken ++ [V || {{var, _, V}, _} <- Env],
    hd([V || I <- lists:seq(1, length(Used) + 1),
             not lists:member(V = list_to_atom("V" ++ integer_to_list(I)), Used)]).

%% Primitives whose result can be T: {Prim, ArgTypes, Subst}.
-spec candidates(type(), ctx()) -> [{petri_spec:prim(), [type()], petri_types:subst()}].
candidates(T, #{prims := Prims} = Ctx) ->
    Guard = maps:get(guard, Ctx, false),
    [{P, As, Sub} || {P, Sig} <- Prims, not Guard orelse guard_ok(P),
                     {As, R} <- [petri_types:fresh_sig(Sig, <<"g">>)],
                     {ok, Sub} <- [petri_types:unify(R, T, [])],
                     T =/= any orelse R =/= any orelse As =/= []].

-spec guard_ok(petri_spec:prim()) -> boolean().
guard_ok({binop, Op}) -> Op =/= '++' andalso Op =/= '--';
guard_ok({unop, _}) -> true;
guard_ok({lit, _}) -> true;
guard_ok({fn, M, F, A}) when M =:= none; M =:= erlang -> erl_internal:guard_bif(F, A);
guard_ok(_) -> false.

%% Type variables of the arguments the result did not fix get a type in
%% scope or the element type of one.
-spec bind_free([type()], petri_types:subst(), env(), rs()) -> {petri_types:subst(), rs()}.
bind_free(As, Sub, Env, S0) ->
    Free = dedup(lists:append([petri_types:tvars(petri_types:apply(A, Sub)) || A <- As])),
    Pool = dedup(lists:append([[T | elems(T)] || {_, T} <- Env, T =/= any]) ++ [int]),
    lists:foldl(fun(V, {Sb, Sx}) ->
                        {T, Sy} = pick(Pool, Sx),
                        {[{V, T} | Sb], Sy}
                end, {Sub, S0}, Free).

%% A list type's element types, outermost first: a fun over a list's
%% elements (lists:map(fun(S) -> length(S) end, Strings)) gets its type.
-spec elems(type()) -> [type()].
elems({list, E}) when E =/= any -> [E | elems(E)];
elems(_) -> [].

%% A primitive's node over its arguments, in no scope: node/3 with [].
-spec node(petri_spec:prim(), [node_()]) -> node_().
node(P, Args) -> node(P, Args, []).

%% A primitive's node over its arguments in the scope Env. A list form's fun
%% takes a parameter named apart from Env's variables and the arguments'
%% (it shadows nothing, and no argument is captured).
-spec node(petri_spec:prim(), [node_()], env()) -> node_().
node({lit, E}, [], _) -> E;
node({binop, Op}, [L, R], _) -> {op, ?A, Op, L, R};
node({unop, Op}, [X], _) -> {op, ?A, Op, X};
node({form, 'if'}, [C, X, Y], _) -> if_node(C, X, Y);
node({form, F}, Args, Env) ->
    Taken = [{{var, ?A, V}, any} || V <- petri_sites:vars_in(Args)] ++ Env,
    V = {var, ?A, fresh_var([], Taken)},
    Eq = fun(A) -> {op, ?A, '==', V, A} end,
    Fun = fun(Body) -> {'fun', ?A, {clauses, [{clause, ?A, [V], [], [Body]}]}} end,
    Lists = fun(Name, As) -> {call, ?A, {remote, ?A, {atom, ?A, lists}, {atom, ?A, Name}}, As} end,
    Len = fun(X) -> {call, ?A, {atom, ?A, length}, [X]} end,
    case {F, Args} of
        {replace, [A, B, L]} -> Lists(map, [Fun(if_node(Eq(A), B, V)), L]);
        {indexof, [A, L]} -> Len(Lists(takewhile, [Fun({op, ?A, 'not', Eq(A)}), L]));
        {occurrences, [A, L]} -> Len(Lists(filter, [Fun(Eq(A)), L]));
        {remove, [A, L]} -> Lists(filter, [Fun({op, ?A, 'not', Eq(A)}), L])
    end;
node({fn, none, F, _}, Args, _) -> {call, ?A, {atom, ?A, F}, Args};
node({fn, M, F, _}, Args, _) -> {call, ?A, {remote, ?A, {atom, ?A, M}, {atom, ?A, F}}, Args}.

-spec if_node(node_(), node_(), node_()) -> node_().
if_node(C, X, Y) ->
    {'case', ?A, C, [{clause, ?A, [{atom, ?A, true}], [], [X]},
                     {clause, ?A, [{atom, ?A, false}], [], [Y]}]}.

%% A variable of type T in scope (two times in three when there is one), or a
%% literal: one of the spec's literal primitives of type T (half the time
%% when there are some), or one built for T (for a tuple of known element
%% types, a tuple of terminals of those types). When no variable has type T, a
%% projection of one is the terminal one time in three: a one-argument
%% primitive of a variable in scope that gives a T (length(L), hd(L) where L
%% is a list and T is int), as PushGP's vector_length and vector_first are
%% instructions; literals keep the rest (an accumulator starts at 0).
-spec terminal(type(), env(), ctx(), rs()) -> {node_(), rs()}.
terminal({fn, Ps, R}, Env, Ctx, S) ->
    lambda(Ps, R, 0, Env, Ctx, S);
terminal(T, Env, #{prims := Prims} = Ctx, S0) ->
    Vars = [N || {N, Tn} <- Env, Tn =/= any orelse T =:= any,
                 petri_types:unify(Tn, T, []) =/= error],
    Projs = case Vars of
                [] -> projections(T, Env, Ctx);
                _ -> []
            end,
    Lits = [E || {{lit, E}, {[], Tl}} <- Prims, Tl =/= any orelse T =:= any,
                 petri_types:unify(Tl, T, []) =/= error],
    {R, S1} = rand:uniform_s(6, S0),
    if
        Vars =/= [], R =< 4 -> pick(Vars, S1);
        Projs =/= [], R =< 2 -> pick(Projs, S1);
        Lits =/= [], R rem 2 =:= 1 -> pick(Lits, S1);
        is_tuple(T), element(1, T) =:= tuple -> % a tuple of terminals ({S, length(S)})
            tuple([fun(Sx) -> terminal(E, Env, Ctx, Sx) end || E <- element(2, T)], S1);
        true -> literal(T, Ctx, S1)
    end.

%% One-argument primitive calls of a variable in scope that give a T (not
%% of any type: not a recursive call, not where T is any).
-spec projections(type(), env(), ctx()) -> [node_()].
projections(any, _, _) -> [];
projections(T, Env, #{prims := Prims} = Ctx) ->
    Guard = maps:get(guard, Ctx, false),
    [node(P, [V]) || {P, Sig} <- Prims, element(1, P) =/= lit, not Guard orelse guard_ok(P),
                     {[A], R} <- [petri_types:fresh_sig(Sig, <<"p">>)],
                     {ok, Sub} <- [petri_types:unify(R, T, [])],
                     {{var, _, _} = V, Tv} <- Env, Tv =/= any,
                     petri_types:unify(A, Tv, Sub) =/= error].

-spec literal(type(), ctx(), rs()) -> {node_(), rs()}.
literal(int, #{spec := Spec}, S0) ->
    {Lo, Hi} = int_range(Spec),
    {I, S1} = rand:uniform_s(Hi - Lo + 1, S0),
    {{integer, ?A, Lo + I - 1}, S1};
literal(float, #{spec := #{const_int := true}} = Ctx, S0) ->
    %% integer constants: a float literal is a whole number of the range
    %% (0.0 among them, where an accumulator starts)
    {{integer, _, I}, S1} = literal(int, Ctx, S0),
    {{float, ?A, float(I)}, S1};
literal(float, #{spec := #{const_min := Min, const_max := Max}}, S0) ->
    {U, S1} = rand:uniform_s(S0),
    {{float, ?A, round(10000 * (Min + U * (Max - Min))) / 10000}, S1};
literal(bool, _, S0) ->
    {B, S1} = pick([true, false], S0),
    {{atom, ?A, B}, S1};
literal(atom, _, S0) -> {{atom, ?A, ok}, S0};
literal(binary, _, S0) ->
    {N, S1} = rand:uniform_s(4, S0),
    {Cs, S2} = lists:foldl(fun(_, {Acc, Sx}) ->
                                   {C, Sy} = rand:uniform_s(26, Sx),
                                   {[$a + C - 1 | Acc], Sy}
                           end, {[], S1}, lists:seq(2, N)),
    {bin(Cs), S2};
literal({list, E}, Ctx, S0) ->
    {N, S1} = rand:uniform_s(3, S0),
    {Es, S2} = lists:foldl(fun(_, {Acc, Sx}) ->
                                   {X, Sy} = literal(E, Ctx, Sx),
                                   {[X | Acc], Sy}
                           end, {[], S1}, lists:seq(2, N)),
    {lists:foldl(fun(X, T) -> {cons, ?A, X, T} end, {nil, ?A}, Es), S2};
literal(map, _, S) -> {{map, ?A, []}, S};
literal(tuple, _, S) -> {{tuple, ?A, []}, S};
literal({tuple, Ts}, Ctx, S) -> tuple([fun(Sx) -> literal(E, Ctx, Sx) end || E <- Ts], S);
literal({fn, Ps, R}, Ctx, S) -> lambda(Ps, R, 0, [], Ctx, S);
literal(any, #{spec := #{const_int := false}} = Ctx, S) -> literal(float, Ctx, S);
literal(_, Ctx, S) -> literal(int, Ctx, S).

-spec bin(string()) -> node_().
bin([]) -> {bin, ?A, []};
bin(Cs) -> {bin, ?A, [{bin_element, ?A, {string, ?A, Cs}, default, default}]}.

-spec int_range(petri_wire:spec()) -> {integer(), integer()}.
int_range(#{const_min := Min, const_max := Max}) ->
    Lo = ceil(Min),
    Hi = floor(Max),
    case Lo =< Hi of
        true -> {Lo, Hi};
        false -> {round(Min), round(Min)}
    end.

-spec pick([T], rs()) -> {T, rs()}.
pick(List, S0) ->
    {I, S1} = rand:uniform_s(length(List), S0),
    {lists:nth(I, List), S1}.

-spec dedup([T]) -> [T].
dedup(L) -> dedup(L, []).

-spec dedup([T], [T]) -> [T].
dedup([], Acc) -> lists:reverse(Acc);
dedup([X | T], Acc) ->
    case lists:member(X, Acc) of
        true -> dedup(T, Acc);
        false -> dedup(T, [X | Acc])
    end.
