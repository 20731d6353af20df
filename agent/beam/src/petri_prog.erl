%% petri_prog - typed variation operators on whole modules: expressions,
%% literals, patterns, guards, clauses, helper functions and recursion/fold
%% templates. petri_mutate dispatches here for typed specs and new op names.
%%
%% Invariants:
%%  1. Randomness comes only from the rand:state() passed in; the same
%%     parents, operator and state give the same child.
%%  2. A site is an expression of a clause body of any function of the
%%     module: {Function, Clause, BodyExpr, Path}. Each has an environment
%%     (variables bound by the clause head and enclosing funs, with types)
%%     and a type (inferred, or required by the call it is an argument of).
%%     A replacement has a type that unifies with the site's and uses only
%%     variables of the site's environment.
%%  3. The arguments of a call of the entry function by itself are not
%%     sites: a structural recursion keeps its smaller argument.
%%  4. A child passes acceptable/2 (size caps, erl_lint) or the caller falls
%%     back (petri_mutate).
%% Sites, their environments and types, and the tree edits: petri_sites.
-module(petri_prog).

-export([ops/0, apply_op/4, random/2, acceptable/2, roots/2, exports/3]).
-import(petri_sites, [with_locals/2, sites/2, head_env/4, head_names/3, tchildren/2,
                      tchildren_any/1, put/3, last_expr/4, clauses/1, set_clauses/2,
                      arg_type/2, free_vars/1, vars_in/1, rename/2, subst/2, local_calls/1,
                      prim_of/1]).

-define(A, 1).
-define(MAX_NODES, 400).     % tuples in all function bodies, heads and guards
-define(MAX_DEPTH, 14).      % nesting of expressions
-define(MAX_CLAUSES, 8).
-define(MAX_FUNS, 6).
-define(SUBTREE_DEPTH, 3).
-define(RANDOM_DEPTH, 4).

-type node_() :: tuple().
-type rs() :: rand:state().
-type ctx() :: petri_gen:ctx().
-type parent() :: petri_sites:parent().
-type site() :: petri_sites:site().
-type result() :: {ok, parent(), rs()} | {fallback, iodata(), rs()}.

%% The operators only this module implements, with their number of parents.
-spec ops() -> [{binary(), 1..2}].
ops() ->
    [{<<"call_swap">>, 1}, {<<"literal">>, 1}, {<<"pattern">>, 1}, {<<"guard">>, 1},
     {<<"clause_add">>, 1}, {<<"clause_del">>, 1}, {<<"clause_swap">>, 1},
     {<<"clause_xover">>, 2}, {<<"helper">>, 1}, {<<"inline">>, 1}, {<<"fold">>, 1},
     {<<"recurse">>, 1}, {<<"wrap">>, 1}].

%% The functions a child keeps whatever calls them: the entry function and,
%% when it is a live genome's handle/2, the other callbacks of the live
%% contract (petri_live: init/1, code_change/2), which nothing in the module
%% calls.
-spec roots(atom(), arity()) -> [{atom(), arity()}].
roots(handle, 2) -> [{handle, 2}, {init, 1}, {code_change, 2}];
roots(F, A) -> [{F, A}].

%% What a child exports: the entry function first, then the other roots it
%% defines.
-spec exports(atom(), arity(), [tuple()]) -> [{atom(), arity()}].
exports(F, A, Funs) ->
    Defined = [{N, Ar} || {function, _, N, Ar, _} <- Funs],
    [{F, A} | [R || R <- tl(roots(F, A)), lists:member(R, Defined)]].

%% The child keeps only the functions its roots reach.
-spec apply_op(binary(), [parent()], ctx(), rs()) -> result().
apply_op(Op, [P1 | _] = Ps, Ctx, S) ->
    case op(Op, Ps, with_locals(P1, Ctx), S) of
        {ok, Child, S1} -> {ok, prune(Child), S1};
        Fallback -> Fallback
    end.

-spec prune(parent()) -> parent().
prune({Funs, K}) ->
    Entry = lists:nth(K, Funs),
    {function, _, F, A, _} = Entry,
    Live = reach(roots(F, A), [], Funs),
    Kept = [Fn || {function, _, N, Ar, _} = Fn <- Funs, lists:member({N, Ar}, Live)],
    {Kept, length(lists:takewhile(fun(Fn) -> Fn =/= Entry end, Kept)) + 1}.

-spec reach([{atom(), arity()}], [{atom(), arity()}], [tuple()]) -> [{atom(), arity()}].
reach([], Seen, _) -> Seen;
reach([NA | T], Seen, Funs) ->
    case lists:member(NA, Seen) of
        true -> reach(T, Seen, Funs);
        false ->
            Calls = lists:append([local_calls(Cs) || {function, _, N, Ar, Cs} <- Funs, {N, Ar} =:= NA]),
            reach(Calls ++ T, [NA | Seen], Funs)
    end.

-spec op(binary(), [parent()], ctx(), rs()) -> result().
op(<<"point">>, [P], Ctx, S) -> point(P, Ctx, S);
op(<<"swap">>, [P], Ctx, S) -> call_swap(P, Ctx, S);
op(<<"call_swap">>, [P], Ctx, S) -> call_swap(P, Ctx, S);
op(<<"subtree">>, [P], Ctx, S) -> subtree(P, Ctx, S);
op(<<"crossover">>, [P1, P2], Ctx, S) -> crossover(P1, P2, Ctx, S);
op(<<"hoist">>, [P], Ctx, S) -> hoist(P, Ctx, S);
op(<<"shrink">>, [P], Ctx, S) -> shrink(P, Ctx, S);
op(<<"literal">>, [P], Ctx, S) -> literal(P, Ctx, S);
op(<<"pattern">>, [P], Ctx, S) -> pattern(P, Ctx, S);
op(<<"guard">>, [P], Ctx, S) -> guard(P, Ctx, S);
op(<<"clause_add">>, [P], Ctx, S) -> clause_add(P, Ctx, S);
op(<<"clause_del">>, [P], _Ctx, S) -> clause_del(P, S);
op(<<"clause_swap">>, [P], _Ctx, S) -> clause_swap(P, S);
op(<<"clause_xover">>, [P1, P2], _Ctx, S) -> clause_xover(P1, P2, S);
op(<<"helper">>, [P], Ctx, S) -> helper(P, Ctx, S);
op(<<"inline">>, [P], Ctx, S) -> inline(P, Ctx, S);
op(<<"fold">>, [P], Ctx, S) -> fold(P, Ctx, S);
op(<<"recurse">>, [P], Ctx, S) -> recurse(P, Ctx, S);
op(<<"wrap">>, [P], Ctx, S) -> wrap(P, Ctx, S).

%% A random entry function f(Vars) -> Expr of the result type.
-spec random([atom()], ctx()) -> fun((rs()) -> tuple()).
random(Vars, #{fn := Fn, entry := {ArgTs, R}} = Ctx) ->
    fun(S0) ->
            {Depth, S1} = rand:uniform_s(?RANDOM_DEPTH, S0),
            Env = [{{var, ?A, V}, T} || {V, T} <- lists:zip(Vars, ArgTs)],
            {Body, _} = petri_gen:gen(R, Depth, Env, Ctx, S1),
            {function, ?A, Fn, length(Vars), [{clause, ?A, [{var, ?A, V} || V <- Vars], [], [Body]}]}
    end.

%% ---- expression operators ----------------------------------------------------------

-spec point(parent(), ctx(), rs()) -> result().
%% A terminal changes: a variable becomes another of its type (or a literal),
%% a literal is mutated.
point(P, Ctx, S0) ->
    case [X || {_, N, _, _} = X <- sites(P, Ctx), terminal(N)] of
        [] -> {fallback, "no terminal to mutate", S0};
        Sites ->
            {{Site, N, Env, T}, S1} = pick(Sites, S0),
            {New, S2} = case N of
                            {var, _, _} ->
                                petri_gen:terminal(T, [E || {V, _} = E <- Env, V =/= N], Ctx, S1);
                            _ -> mut_literal(N, T, Ctx, S1)
                        end,
            {ok, put(P, Site, New), S2}
    end.

-spec call_swap(parent(), ctx(), rs()) -> result().
%% A call or operator becomes another primitive of the same arity whose
%% signature accepts the arguments' types and gives the site's type.
call_swap(P, Ctx, S0) ->
    Alts = [{Site, N, Env, As} || {Site, N, Env, T} <- sites(P, Ctx),
                                  (As = alternatives(N, Env, T, Ctx)) =/= []],
    case Alts of
        [] -> point(P, Ctx, S0);
        _ ->
            {{Site, N, Env, As}, S1} = pick(Alts, S0),
            {Q, S2} = pick(As, S1),
            {ok, put(P, Site, rebuild(Q, N, Env)), S2}
    end.

-spec alternatives(node_(), petri_gen:env(), petri_types:type(), ctx()) -> [petri_spec:prim()].
alternatives(N, Env, T, #{prims := Prims} = Ctx) ->
    case prim_of(N) of
        none -> [];
        {Me, Args} ->
            ArgTs = [petri_gen:infer(A, Env, Ctx) || A <- Args],
            [Q || {Q, Sig} <- Prims, Q =/= Me, element(1, Q) =/= lit,
                  petri_spec:prim_arity(Q) =:= length(Args),
                  fits(Sig, ArgTs, T)]
    end.

-spec fits(petri_types:sig(), [petri_types:type()], petri_types:type()) -> boolean().
fits(Sig, ArgTs, T) ->
    {As, R} = petri_types:fresh_sig(Sig, <<"s">>),
    lists:foldl(fun({A, B}, {ok, S}) -> petri_types:unify(A, B, S);
                   (_, error) -> error
                end, petri_types:unify(R, T, []), lists:zip(As, ArgTs)) =/= error.

-spec rebuild(petri_spec:prim(), node_(), petri_gen:env()) -> node_().
rebuild(Q, N, Env) ->
    {_, Args} = prim_of(N),
    petri_gen:node(Q, Args, Env).

-spec subtree(parent(), ctx(), rs()) -> result().
subtree(P, Ctx, S0) ->
    {{Site, _, Env, T}, S1} = pick(sites(P, Ctx), S0),
    {D, S2} = rand:uniform_s(?SUBTREE_DEPTH + 1, S1),
    {New, S3} = petri_gen:gen(T, D - 1, Env, Ctx, S2),
    {ok, put(P, Site, New), S3}.

-spec crossover(parent(), parent(), ctx(), rs()) -> result().
%% A subtree of parent 2 whose type fits and whose variables are in scope
%% (argument variables renamed by position) replaces a node of parent 1.
crossover(P1, P2, Ctx, S0) ->
    {{Site1, _, Env1, T1}, S1} = pick(sites(P1, Ctx), S0),
    Names = [V || {{var, _, V}, _} <- Env1],
    Map = arg_map(P2, P1, Site1),
    Donors = [D || {_, N, _, T2} <- sites(P2, Ctx), fits_type(T2, T1),
                   D <- [rename(N, Map)], subset(free_vars(D), Names)],
    case Donors of
        [] -> {fallback, "no donor subtree of a fitting type", S1};
        _ ->
            {D, S2} = pick(Donors, S1),
            {ok, put(P1, Site1, D), S2}
    end.

-spec arg_map(parent(), parent(), site()) -> [{atom(), atom()}].
arg_map({Funs2, K2}, {Funs1, K1}, {FI, CI, _, _}) ->
    {function, _, _, _, [{clause, _, Ps2, _, _} | _]} = lists:nth(K2, Funs2),
    {function, _, _, _, Cs1} = lists:nth(FI, Funs1),
    {clause, _, Ps1, _, _} = lists:nth(CI, Cs1),
    case FI =:= K1 of
        true -> [{V2, V1} || {{var, _, V2}, {var, _, V1}} <- lists:zip(Ps2, Ps1)];
        false -> []
    end.

-spec wrap(parent(), ctx(), rs()) -> result().
%% The inverse of hoist: an expression B of a type known all through becomes
%% an argument of a new call of a primitive whose result has B's type, at a
%% position of that type: B / E, not B, lists:filter(F, B), lists:map(F, B).
%% The other arguments are new expressions of B's scope: a fun's body uses
%% its parameters, another argument a variable in scope, when one of six
%% tries does; a list form's element arguments are terminals (as in
%% petri_gen:call/5). The program grows around what already works.
wrap(P, #{prims := Prims} = Ctx, S0) ->
    Wraps = [{Site, B, Env, Opts}
             || {Site, B, Env, T} <- sites(P, Ctx), foldable(T),
                (Opts = wrappers(T, Prims)) =/= []],
    case Wraps of
        [] -> {fallback, "no expression a primitive can take and give back", S0};
        _ ->
            {{Site, B, Env, Opts}, S1} = pick(Wraps, S0),
            {{Q, I, As, Sub}, S2} = pick(Opts, S1),
            Others = [A || {J, A} <- enum(As), J =/= I],
            {Sub2, S3} = petri_gen:bind_free(Others, Sub, Env, S2),
            {D, S4} = rand:uniform_s(3, S3),
            {Args, S5} = lists:foldl(
                           fun({J, _}, {Acc, Sx}) when J =:= I -> {[B | Acc], Sx};
                              ({J, A}, {Acc, Sx}) ->
                                   At = petri_types:ground(petri_types:apply(A, Sub2)),
                                   {N, Sy} = case petri_gen:element_arg(Q, J, length(As)) of
                                                 true -> petri_gen:terminal(At, Env, Ctx, Sx);
                                                 false -> wrap_arg(At, D - 1, Env, Ctx, Sx)
                                             end,
                                   {[N | Acc], Sy}
                           end, {[], S4}, enum(As)),
            {ok, put(P, Site, petri_gen:node(Q, lists:reverse(Args), Env)), S5}
    end.

%% The primitives that can take a T at one position and give a T:
%% {Prim, Position, ArgTypes, Subst}.
-spec wrappers(petri_types:type(), [{petri_spec:prim(), petri_types:sig()}]) ->
          [{petri_spec:prim(), pos_integer(), [petri_types:type()], petri_types:subst()}].
wrappers(T, Prims) ->
    [{Q, I, As, Sub} || {Q, Sig} <- Prims, element(1, Q) =/= lit,
                        {As, R} <- [petri_types:fresh_sig(Sig, <<"w">>)],
                        {ok, Sub0} <- [petri_types:unify(R, T, [])],
                        {I, A} <- enum(As),
                        {ok, Sub} <- [petri_types:unify(A, T, Sub0)]].

-spec wrap_arg(petri_types:type(), non_neg_integer(), petri_gen:env(), ctx(), rs()) ->
          {node_(), rs()}.
wrap_arg({fn, Ps, R}, D, Env, Ctx, S) ->
    Body = fun(Env2, Names, Sx) ->
                   Gen = fun(Sy) -> petri_gen:gen(R, max(D, 1), Env2, Ctx, Sy) end,
                   gen_using(Names, 6, Gen, Sx)
           end,
    petri_gen:lambda_with(Ps, Env, Body, S);
wrap_arg(T, D, Env, Ctx, S) ->
    Names = [V || {{var, _, V}, _} <- Env],
    gen_using(Names, 6, fun(Sx) -> petri_gen:gen(T, D, Env, Ctx, Sx) end, S).

-spec hoist(parent(), ctx(), rs()) -> result().
%% A clause's value becomes one of its own subtrees of a fitting type.
hoist(P, Ctx, S0) ->
    All = sites(P, Ctx),
    Roots = [{{F, C, E}, T, [V || {{var, _, V}, _} <- Env]}
             || {{F, C, E, []}, _, Env, T} <- All, last_expr(P, F, C, E)],
    Sites = [{{F, C, E, []}, N} || {{F, C, E, Path}, N, _, T} <- All, Path =/= [],
                                   {{F2, C2, E2}, RT, Names} <- Roots, {F2, C2, E2} =:= {F, C, E},
                                   fits_type(T, RT),
                                   subset(free_vars(N), Names)],
    case Sites of
        [] -> {fallback, "nothing to hoist", S0};
        _ ->
            {{Site, N}, S1} = pick(Sites, S0),
            {ok, put(P, Site, N), S1}
    end.

-spec shrink(parent(), ctx(), rs()) -> result().
shrink(P, Ctx, S0) ->
    case [X || {_, N, _, _} = X <- sites(P, Ctx), tchildren(N, Ctx) =/= []] of
        [] -> {fallback, "nothing to shrink", S0};
        Sites ->
            {{Site, _, Env, T}, S1} = pick(Sites, S0),
            {New, S2} = petri_gen:terminal(T, Env, Ctx, S1),
            {ok, put(P, Site, New), S2}
    end.

-spec literal(parent(), ctx(), rs()) -> result().
%% An integer, float, boolean, binary or list literal changes.
literal(P, Ctx, S0) ->
    case [X || {_, N, _, _} = X <- sites(P, Ctx), is_literal(N)] of
        [] -> {fallback, "no literal to mutate", S0};
        Sites ->
            {{Site, N, _, T}, S1} = pick(Sites, S0),
            {New, S2} = mut_literal(N, T, Ctx, S1),
            {ok, put(P, Site, New), S2}
    end.

-spec mut_literal(node_(), petri_types:type(), ctx(), rs()) -> {node_(), rs()}.
mut_literal({integer, _, I}, _, Ctx, S0) ->
    {R, S1} = rand:uniform_s(8, S0),
    case R of
        8 -> petri_gen:literal(int, Ctx, S1);
        _ -> {{integer, ?A, I + element(R, {-3, -2, -1, 1, 1, 2, 3})}, S1}
    end;
mut_literal({float, _, _}, _, Ctx, S) -> petri_gen:literal(float, Ctx, S);
mut_literal({atom, _, B}, _, _, S) when is_boolean(B) -> {{atom, ?A, not B}, S};
mut_literal({bin, _, _} = N, _, _, S0) ->
    Cs = bin_chars(N),
    {Cs2, S1} = edit(Cs, fun(Sx) -> {C, Sy} = rand:uniform_s(26, Sx), {$a + C - 1, Sy} end, S0),
    {case Cs2 of
         [] -> {bin, ?A, []};
         _ -> {bin, ?A, [{bin_element, ?A, {string, ?A, Cs2}, default, default}]}
     end, S1};
mut_literal(N, T, Ctx, S0) ->
    case list_elems(N) of
        {ok, Es} ->
            ET = case T of {list, E} -> E; _ -> any end,
            {Es2, S1} = edit(Es, fun(Sx) -> petri_gen:literal(ET, Ctx, Sx) end, S0),
            {lists:foldr(fun(X, Acc) -> {cons, ?A, X, Acc} end, {nil, ?A}, Es2), S1};
        error -> petri_gen:literal(T, Ctx, S0)
    end.

%% Adds, drops or replaces one element.
-spec edit([T], fun((rs()) -> {T, rs()}), rs()) -> {[T], rs()}.
edit(L, New, S0) ->
    {Kind, S1} = rand:uniform_s(3, S0),
    {I, S2} = rand:uniform_s(length(L) + 1, S1),
    case {Kind, I =< length(L)} of
        {2, true} -> {lists:sublist(L, I - 1) ++ lists:nthtail(I, L), S2};
        {3, true} ->
            {X, S3} = New(S2),
            {lists:sublist(L, I - 1) ++ [X | lists:nthtail(I, L)], S3};
        _ ->
            {X, S3} = New(S2),
            {lists:sublist(L, I - 1) ++ [X | lists:nthtail(I - 1, L)], S3}
    end.

-spec bin_chars(node_()) -> string().
bin_chars({bin, _, Es}) ->
    lists:append([Cs || {bin_element, _, {string, _, Cs}, default, default} <- Es]).

-spec list_elems(node_()) -> {ok, [node_()]} | error.
list_elems({nil, _}) -> {ok, []};
list_elems({string, _, Cs}) -> {ok, [{integer, ?A, C} || C <- Cs]};
list_elems({cons, _, H, T}) ->
    case {is_literal(H), list_elems(T)} of
        {true, {ok, Es}} -> {ok, [H | Es]};
        _ -> error
    end;
list_elems(_) -> error.

-spec is_literal(node_()) -> boolean().
is_literal({integer, _, _}) -> true;
is_literal({char, _, _}) -> true;
is_literal({float, _, _}) -> true;
is_literal({atom, _, B}) -> is_boolean(B);
is_literal({bin, _, Es}) ->
    lists:all(fun(E) -> element(1, E) =:= bin_element andalso element(4, E) =:= default
                            andalso element(5, E) =:= default
                            andalso element(1, element(3, E)) =:= string end, Es);
is_literal(N) -> list_elems(N) =/= error.

-spec terminal(node_()) -> boolean().
terminal({var, _, '_'}) -> false;
terminal({var, _, _}) -> true;
terminal(N) -> is_literal(N).

%% ---- clause-level operators ---------------------------------------------------------

-spec pattern(parent(), ctx(), rs()) -> result().
%% An argument pattern of an entry clause is specialized (V becomes
%% [] = V, [H|T] = V, a literal = V) or generalized back to V.
pattern(P, Ctx, S0) ->
    Cs = clauses(P),
    {CI, S1} = rand:uniform_s(length(Cs), S0),
    {clause, A, Ps, Gs, Body} = C = lists:nth(CI, Cs),
    {I, S2} = rand:uniform_s(length(Ps), S1),
    case respecialize(lists:nth(I, Ps), arg_type(I, Ctx), vars_in(C), Ctx, S2) of
        {ok, Pat, S3} ->
            C2 = {clause, A, setnth(I, Ps, Pat), Gs, Body},
            {ok, set_clauses(P, setnth(CI, Cs, C2)), S3};
        {fallback, S3} -> {fallback, "argument pattern cannot change", S3}
    end.

-spec respecialize(node_(), petri_types:type(), [atom()], ctx(), rs()) ->
          {ok, node_(), rs()} | {fallback, rs()}.
respecialize({var, _, _} = V, T, Taken, Ctx, S0) ->
    {Pat, S1} = special(T, Taken, Ctx, S0),
    {ok, {match, ?A, Pat, V}, S1};
respecialize({match, _, _, {var, _, _} = V}, T, Taken, Ctx, S0) ->
    case rand:uniform_s(2, S0) of
        {1, S1} -> {ok, V, S1};
        {2, S1} -> respecialize(V, T, Taken, Ctx, S1)
    end;
respecialize(_, _, _, _, S) -> {fallback, S}.

-spec special(petri_types:type(), [atom()], ctx(), rs()) -> {node_(), rs()}.
special({list, _}, Taken, _, S0) ->
    {K, S1} = rand:uniform_s(2, S0),
    case K of
        1 -> {{nil, ?A}, S1};
        2 ->
            H = fresh("H", Taken),
            T = fresh("T", Taken),
            {{cons, ?A, {var, ?A, H}, {var, ?A, T}}, S1}
    end;
special(bool, _, Ctx, S) -> petri_gen:literal(bool, Ctx, S);
special(binary, _, _, S) -> {{bin, ?A, []}, S};
special(float, _, Ctx, S) -> petri_gen:literal(float, Ctx, S);
special(any, Taken, Ctx, S0) ->
    {K, S1} = rand:uniform_s(2, S0),
    case K of
        1 -> petri_gen:literal(int, Ctx, S1);
        2 -> special({list, any}, Taken, Ctx, S1)
    end;
special(_, _, Ctx, S) -> petri_gen:literal(int, Ctx, S).

-spec fresh(string(), [atom()]) -> atom().
fresh(Prefix, Taken) ->
    hd([V || I <- lists:seq(1, length(Taken) + 1),
             not lists:member(V = list_to_atom(Prefix ++ integer_to_list(I)), Taken)]).

-spec guard(parent(), ctx(), rs()) -> result().
%% An entry clause loses its guard, or gets a new boolean guard over its
%% head variables built from guard-safe primitives.
guard(P, Ctx, S0) ->
    Cs = clauses(P),
    {CI, S1} = rand:uniform_s(length(Cs), S0),
    {clause, A, Ps, Gs, Body} = lists:nth(CI, Cs),
    {Coin, S2} = rand:uniform_s(3, S1),
    {Gs2, S3} = case Gs =/= [] andalso Coin =:= 1 of
                    true -> {[], S2};
                    false ->
                        {G, Sx} = petri_gen:gen(bool, 2, head_env(P, entry, Ps, Ctx),
                                                Ctx#{guard => true}, S2),
                        {[[G]], Sx}
                end,
    {ok, set_clauses(P, setnth(CI, Cs, {clause, A, Ps, Gs2, Body})), S3}.

-spec clause_add(parent(), ctx(), rs()) -> result().
%% A copy of an entry clause with a new body goes in before it, told apart by
%% one argument's pattern when that argument is a list, a boolean or a
%% binary ([] or [H|T], true or false, <<>>), else by a new guard over the
%% head's variables (a number is never matched by one literal: such a
%% clause fits one input only, which lexicase rewards and held-out cases do
%% not). Without guard-safe primitives, the number gets a literal pattern.
clause_add(P, #{entry := {_, R}} = Ctx, S0) ->
    Cs = clauses(P),
    {CI, S1} = rand:uniform_s(length(Cs), S0),
    {clause, A, Ps, _, _} = C = lists:nth(CI, Cs),
    {I, S2} = rand:uniform_s(max(1, length(Ps)), S1),
    Arg = case Ps of
              [] -> none;
              _ -> {lists:nth(I, Ps), arg_type(I, Ctx)}
          end,
    {Ps2, Gs, S3} = case Arg of
                        none -> {Ps, [], S2};
                        {Pt, T} -> new_head(Ps, I, Pt, T, vars_in(C), head_env(P, entry, Ps, Ctx), Ctx, S2)
                    end,
    Env = head_env(P, entry, Ps2, Ctx),
    {Body, S4} = petri_gen:gen(R, 2, Env, Ctx, S3),
    New = {clause, A, Ps2, Gs, [Body]},
    {ok, set_clauses(P, lists:sublist(Cs, CI - 1) ++ [New | lists:nthtail(CI - 1, Cs)]), S4}.

-spec new_head([node_()], pos_integer(), node_(), petri_types:type(), [atom()], petri_gen:env(),
               ctx(), rs()) ->
          {[node_()], list(), rs()}.
new_head(Ps, I, Pt, T, Taken, Env, Ctx, S0) ->
    Structural = case T of
                     {list, _} -> true;
                     bool -> true;
                     binary -> true;
                     _ -> false
                 end,
    Guard = case Structural of
                true -> none;
                false ->
                    Names = [V || {{var, _, V}, _} <- Env],
                    Ok = fun(G0) ->
                                 not terminal(G0) andalso
                                     lists:any(fun(V) -> lists:member(V, Names) end, free_vars(G0))
                         end,
                    {G, Sg} = gen_until(Ok, 6, fun(Sx) ->
                                                        petri_gen:gen(bool, 2, Env,
                                                                      Ctx#{guard => true}, Sx)
                                                end, S0),
                    case Ok(G) of
                        true -> {G, Sg};
                        false -> none
                    end
            end,
    case Guard of
        {G2, S1} -> {Ps, [[G2]], S1};
        none ->
            case respecialize(Pt, T, Taken, Ctx, S0) of
                {ok, Pat, S1} -> {setnth(I, Ps, Pat), [], S1};
                {fallback, S1} -> {Ps, [], S1}
            end
    end.

-spec clause_del(parent(), rs()) -> result().
clause_del(P, S0) ->
    case clauses(P) of
        [_] -> {fallback, "one clause only", S0};
        Cs ->
            {CI, S1} = rand:uniform_s(length(Cs), S0),
            {ok, set_clauses(P, lists:sublist(Cs, CI - 1) ++ lists:nthtail(CI, Cs)), S1}
    end.

-spec clause_swap(parent(), rs()) -> result().
clause_swap(P, S0) ->
    case clauses(P) of
        [_] -> {fallback, "one clause only", S0};
        Cs ->
            {CI, S1} = rand:uniform_s(length(Cs) - 1, S0),
            [X, Y | Rest] = lists:nthtail(CI - 1, Cs),
            {ok, set_clauses(P, lists:sublist(Cs, CI - 1) ++ [Y, X | Rest]), S1}
    end.

-spec clause_xover(parent(), parent(), rs()) -> result().
%% An entry clause of parent 2 replaces one of parent 1's, or goes in
%% beside them; the local functions it calls that parent 1 lacks come along.
clause_xover({Funs1, _} = P1, {Funs2, K2} = P2, S0) ->
    {DI, S1} = rand:uniform_s(length(clauses(P2)), S0),
    D = lists:nth(DI, clauses(P2)),
    Cs = clauses(P1),
    {CI, S2} = rand:uniform_s(length(Cs) + 1, S1),
    {Coin, S3} = rand:uniform_s(2, S2),
    Cs2 = case Coin =:= 1 andalso CI =< length(Cs) of
              true -> setnth(CI, Cs, D);
              false -> lists:sublist(Cs, CI - 1) ++ [D | lists:nthtail(CI - 1, Cs)]
          end,
    Have = [{F, A} || {function, _, F, A, _} <- Funs1],
    Bring = [F || {function, _, Name, Ar, _} = F <- Funs2, F =/= lists:nth(K2, Funs2),
                  lists:member({Name, Ar}, local_calls(D)), not lists:member({Name, Ar}, Have)],
    {Funs3, K} = set_clauses(P1, Cs2),
    {ok, {Funs3 ++ Bring, K}, S3}.

%% ---- functions -----------------------------------------------------------------------

-spec helper(parent(), ctx(), rs()) -> result().
%% A subexpression of the entry function becomes a new function of its free
%% variables, called in its place.
helper({Funs, K} = P, Ctx, S0) ->
    Cands = [{Site, N, Fv} || {{F, C, _, _} = Site, N, _, _} <- sites(P, Ctx), F =:= K,
                              tchildren(N, Ctx) =/= [],
                              Fv <- [free_vars(N)],
                              subset(Fv, head_names(P, F, C))],
    case Cands of
        [] -> {fallback, "no subexpression to extract", S0};
        _ when length(Funs) >= ?MAX_FUNS -> {fallback, "too many functions", S0};
        _ ->
            {{Site, N, Fv}, S1} = pick(Cands, S0),
            Names = [F || {function, _, F, _, _} <- Funs],
            Name = hd([H || I <- lists:seq(1, length(Names) + 1),
                            not lists:member(H = list_to_atom("h" ++ integer_to_list(I)), Names)]),
            Vars = [{var, ?A, V} || V <- Fv],
            Fun = {function, ?A, Name, length(Fv), [{clause, ?A, Vars, [], [N]}]},
            {Funs2, K} = put(P, Site, {call, ?A, {atom, ?A, Name}, Vars}),
            {ok, {Funs2 ++ [Fun], K}, S1}
    end.

-spec inline(parent(), ctx(), rs()) -> result().
%% A call of a one-clause local function is replaced by its body with the
%% arguments substituted; the function goes when nothing calls it any more.
inline({Funs, K} = P, Ctx, S0) ->
    Inlinable = [{Name, Ar, Ps, E} || {FI, {function, _, Name, Ar, [{clause, _, Ps, [], [E]}]}}
                                          <- enum(Funs), FI =/= K,
                                      lists:all(fun(X) -> element(1, X) =:= var end, Ps),
                                      length(lists:usort(Ps)) =:= length(Ps)],
    Cands = [{Site, Args, Ps, E}
             || {Site, {call, _, {atom, _, Name}, Args}, _, _} <- sites(P, Ctx),
                {Name2, Ar, Ps, E} <- Inlinable, Name2 =:= Name, Ar =:= length(Args)],
    case Cands of
        [] -> {fallback, "no call to inline", S0};
        _ ->
            {{Site, Args, Ps, E}, S1} = pick(Cands, S0),
            Map = [{V, A} || {{var, _, V}, A} <- lists:zip(Ps, Args)],
            {ok, put(P, Site, subst(E, Map)), S1}   % apply_op/4 prunes the function
    end.

-spec fold(parent(), ctx(), rs()) -> result().
%% A fold template takes the place of an expression B of the entry function:
%% lists:foldl(fun(X, Acc) -> G end, Init, L). Init is B half the time, else
%% a new terminal of B's type. L is a list variable of B's scope two times
%% in three when there is one, else a new list expression whose elements
%% have the type of a list's in scope or int (lists:seq(1, N),
%% lists:reverse(L), ...), one that uses a variable when one of six tries
%% does. G is a new
%% expression of X, Acc and B's scope; half the time a reduction Acc Op E,
%% Op a primitive of type (T, T) -> T for B's type T (+, *, max, ++, ...).
%% When B reads the head of a list variable L (hd(L)) or an integer
%% variable N, one time in two the fold lifts B (liftable/3) instead:
%% lists:foldl(fun(X, Acc) -> Acc Op B' end, Init, L or lists:seq(1, N)),
%% B' being B with X for hd(L) or N and Init Op's identity (0 for +, 1 for
%% *, [] for ++) or a terminal: what is right for the first element
%% (hd(L) rem 2) is summed over all of them, what is right at N = 1 (N * N)
%% over 1..N.
fold({_, K} = P, Ctx, S0) ->
    case [X || {{F, _, _, _}, _, _, T} = X <- sites(P, Ctx), F =:= K, foldable(T)] of
        [] -> {fallback, "no expression of a type to accumulate", S0};
        Sites ->
            {{Site, B, Env, T}, S1} = pick(Sites, S0),
            {Coin, S1b} = rand:uniform_s(2, S1),
            case liftable(B, Env, Ctx) of
                [_ | _] = Ls when Coin =:= 1 -> lift(P, Site, B, Env, T, Ls, Ctx, S1b);
                _ -> fold_new(P, Site, B, Env, T, Ctx, S1b)
            end
    end.

-spec fold_new(parent(), term(), node_(), petri_gen:env(), petri_types:type(), ctx(), rs()) ->
          result().
fold_new(P, Site, B, Env, T, Ctx, S1) ->
    {{L, E}, S2} = fold_list(Env, Ctx, S1),
    {Coin, S3} = rand:uniform_s(2, S2),
    {Init, S4} = case Coin of
                     1 -> {B, S3};
                     2 -> petri_gen:terminal(T, Env, Ctx, S3)
                 end,
    {Fun, S5} = petri_gen:lambda_with(
                  [E, T], Env,
                  fun(Env2, [X, Acc], Sx) -> fold_body(T, X, Acc, Env2, Ctx, Sx) end, S4),
    New = {call, ?A, {remote, ?A, {atom, ?A, lists}, {atom, ?A, foldl}}, [Fun, Init, L]},
    {ok, put(P, Site, New), S5}.

%% What B can be lifted over: {head, L, E} for each list variable L of
%% element type E whose head B reads (over L's elements), {range, N} for
%% each integer variable N that B reads when lists:seq/2 is a primitive
%% (over lists:seq(1, N), N's values from 1 up: a program right at N = 1
%% becomes a sum over 1..N, N * N the sum of the squares).
-spec liftable(node_(), petri_gen:env(), ctx()) ->
          [{head, atom(), petri_types:type()} | {range, atom()}].
liftable(B, Env, #{prims := Prims}) ->
    Heads = hd_vars(B),
    Free = free_vars(B),
    Seq = lists:keymember({fn, lists, seq, 2}, 1, Prims),
    lists:usort([{head, L, E} || {{var, _, L}, {list, E}} <- Env, lists:member(L, Heads),
                                 foldable(E)]
                ++ [{range, N} || Seq, {{var, _, N}, int} <- Env, lists:member(N, Free)]).

-spec lift(parent(), term(), node_(), petri_gen:env(), petri_types:type(),
           [{head, atom(), petri_types:type()} | {range, atom()}], ctx(), rs()) -> result().
lift(P, Site, B, Env, T, Ls, #{prims := Prims} = Ctx, S0) ->
    {Over, S1} = pick(Ls, S0),
    {E, List, For} =
        case Over of
            {head, L, E0} -> {E0, {var, ?A, L}, fun(X) -> head_to(B, L, X) end};
            {range, N} ->
                {int, {call, ?A, {remote, ?A, {atom, ?A, lists}, {atom, ?A, seq}},
                       [{integer, ?A, 1}, {var, ?A, N}]},
                 fun(X) -> subst(B, [{N, X}]) end}
        end,
    Ops = [Q || {Q, Sig} <- Prims, petri_spec:prim_arity(Q) =:= 2, element(1, Q) =/= lit, fits(Sig, [T, T], T)],
    {Op, S2} = case Ops of
                   [] -> {none, S1};
                   _ -> pick(Ops, S1)
               end,
    {Init, S3} = case identity(Op, T) of
                     none -> petri_gen:terminal(T, Env, Ctx, S2);
                     I -> {I, S2}
                 end,
    {Fun, S4} = petri_gen:lambda_with(
                  [E, T], Env,
                  fun(_, [X, Acc], Sx) ->
                          B2 = For({var, ?A, X}),
                          {case Op of
                               none -> B2;
                               _ -> petri_gen:node(Op, [{var, ?A, Acc}, B2])
                           end, Sx}
                  end, S3),
    New = {call, ?A, {remote, ?A, {atom, ?A, lists}, {atom, ?A, foldl}}, [Fun, Init, List]},
    {ok, put(P, Site, New), S4}.

-spec hd_vars(term()) -> [atom()].
hd_vars({call, _, {atom, _, hd}, [{var, _, L}]}) -> [L];
hd_vars(T) when is_tuple(T) -> hd_vars(tuple_to_list(T));
hd_vars(Ts) when is_list(Ts) -> lists:append([hd_vars(T) || T <- Ts]);
hd_vars(_) -> [].

%% hd(L) anywhere in a tree replaced by X.
-spec head_to(term(), atom(), node_()) -> term().
head_to({call, _, {atom, _, hd}, [{var, _, L}]}, L, X) -> X;
head_to(T, L, X) when is_tuple(T) -> list_to_tuple(head_to(tuple_to_list(T), L, X));
head_to(Ts, L, X) when is_list(Ts) -> [head_to(T, L, X) || T <- Ts];
head_to(T, _, _) -> T.

%% The identity of an accumulating operator at type T, or none.
-spec identity(none | petri_spec:prim(), petri_types:type()) -> none | node_().
identity({binop, Op}, int) when Op =:= '+'; Op =:= '-'; Op =:= 'bor'; Op =:= 'bxor' ->
    {integer, ?A, 0};
identity({binop, Op}, float) when Op =:= '+'; Op =:= '-' -> {float, ?A, 0.0};
identity({binop, '*'}, int) -> {integer, ?A, 1};
identity({binop, '*'}, float) -> {float, ?A, 1.0};
identity({binop, Op}, {list, _}) when Op =:= '++'; Op =:= '--' -> {nil, ?A};
identity({binop, Op}, bool) when Op =:= 'orelse'; Op =:= 'or' -> {atom, ?A, false};
identity({binop, Op}, bool) when Op =:= 'andalso'; Op =:= 'and' -> {atom, ?A, true};
identity(_, _) -> none.

%% A type an accumulator can have: known all through, not a fun.
-spec foldable(petri_types:type()) -> boolean().
foldable(any) -> false;
foldable({fn, _, _}) -> false;
foldable({list, E}) -> foldable(E);
foldable(T) -> petri_types:tvars(T) =:= [].

%% The list to fold over and its element type.
-spec fold_list(petri_gen:env(), ctx(), rs()) -> {{node_(), petri_types:type()}, rs()}.
fold_list(Env, Ctx, S0) ->
    Vars = [{V, E} || {V, {list, E}} <- Env, foldable(E)],
    {R, S1} = rand:uniform_s(3, S0),
    case Vars =/= [] andalso R > 1 of
        true -> pick(Vars, S1);
        false ->
            Elems = lists:usort([E || {_, {list, E}} <- Env, foldable(E)] ++ [int]),
            {E, S2} = pick(Elems, S1),
            {D, S3} = rand:uniform_s(2, S2),
            Names = [V || {{var, _, V}, _} <- Env],
            {L, S4} = gen_using(Names, 6, fun(Sx) -> petri_gen:gen({list, E}, D, Env, Ctx, Sx) end,
                                S3),
            {{L, E}, S4}
    end.

%% An expression from Gen that uses one of Vars, or Gen's last try.
-spec gen_using([atom()], pos_integer(), fun((rs()) -> {node_(), rs()}), rs()) -> {node_(), rs()}.
gen_using(Vars, Tries, Gen, S0) ->
    gen_until(fun(N) -> lists:any(fun(V) -> lists:member(V, Vars) end, free_vars(N)) end,
              Tries, Gen, S0).

%% An expression from Gen that Ok accepts, or Gen's last try.
-spec gen_until(fun((node_()) -> boolean()), pos_integer(), fun((rs()) -> {node_(), rs()}), rs()) ->
          {node_(), rs()}.
gen_until(Ok, Tries, Gen, S0) ->
    {N, S1} = Gen(S0),
    case Tries =:= 1 orelse Ok(N) of
        true -> {N, S1};
        false -> gen_until(Ok, Tries - 1, Gen, S1)
    end.

-spec fold_body(petri_types:type(), atom(), atom(), petri_gen:env(), ctx(), rs()) ->
          {node_(), rs()}.
%% The body uses the element (X) when one of six tries does.
fold_body(T, X, Acc, Env, #{prims := Prims} = Ctx, S0) ->
    Ops = [Q || {Q, Sig} <- Prims, petri_spec:prim_arity(Q) =:= 2, element(1, Q) =/= lit, fits(Sig, [T, T], T)],
    {R, S1} = rand:uniform_s(2, S0),
    Gen = fun(Sx) -> petri_gen:gen(T, 2, Env, Ctx, Sx) end,
    case Ops =/= [] andalso R =:= 1 of
        true ->
            {Op, S2} = pick(Ops, S1),
            {E, S3} = gen_using([X], 6, Gen, S2),
            {petri_gen:node(Op, [{var, ?A, Acc}, E]), S3};
        false -> gen_using([X], 6, Gen, S1)
    end.

-spec recurse(parent(), ctx(), rs()) -> result().
%% An entry clause with a list argument L becomes a structural recursion:
%% f(.., [], ..) -> its value with [] for L; f(.., [H|T], ..) -> a new
%% expression of H, T, the other arguments and f(.., T, ..).
recurse(P, #{entry := {_, R}, fn := Fn} = Ctx, S0) ->
    Cands = [X || {CI, _, _, _} = X <- list_args(P, Ctx),
                  lists:all(fun(Pt) -> element(1, Pt) =:= var end,
                            element(3, lists:nth(CI, clauses(P))))],
    NC = length(clauses(P)),
    case Cands of
        [] -> {fallback, "no list argument to recurse on", S0};
        _ when NC >= ?MAX_CLAUSES -> {fallback, "too many clauses", S0};
        _ ->
            {{CI, I, L, _}, S1} = pick(Cands, S0),
            Cs = clauses(P),
            {clause, A, Ps, _, Body} = C = lists:nth(CI, Cs),
            Base = {clause, A, setnth(I, Ps, {nil, ?A}), [], subst(Body, [{L, {nil, ?A}}])},
            H = fresh("H", vars_in(C)),
            T = fresh("T", [H | vars_in(C)]),
            Ps2 = setnth(I, Ps, {cons, ?A, {var, ?A, H}, {var, ?A, T}}),
            Self = {call, ?A, {atom, ?A, Fn}, setnth(I, Ps, {var, ?A, T})},
            Env = [{Self, R} | head_env(P, entry, Ps2, Ctx)],
            {Expr, S2} = petri_gen:gen(R, 2, Env, Ctx, S1),
            Rec = {clause, A, Ps2, [], [Expr]},
            {ok, set_clauses(P, lists:sublist(Cs, CI - 1) ++ [Base, Rec | lists:nthtail(CI, Cs)]), S2}
    end.

%% Entry clauses' list-typed variable arguments: {Clause, Position, Var, ElemType}.
-spec list_args(parent(), ctx()) -> [{pos_integer(), pos_integer(), atom(), petri_types:type()}].
list_args(P, #{entry := {ArgTs, _}}) ->
    [{CI, I, V, E} || {CI, {clause, _, Ps, _, _}} <- enum(clauses(P)),
                      {I, {{var, _, V}, {list, E}}} <- enum(lists:zip(Ps, ArgTs)),
                      V =/= '_'].

%% ---- checks --------------------------------------------------------------------------

%% Size caps (nodes, depth, clauses, functions) and erl_lint.
-spec acceptable(parent(), ctx()) -> boolean().
acceptable({Funs, K}, Ctx) ->
    Cs = [C || {function, _, _, _, FCs} <- Funs, C <- FCs],
    Exprs = lists:append([Body || {clause, _, _, _, Body} <- Cs]),
    length(Funs) =< ?MAX_FUNS
        andalso lists:all(fun({function, _, _, _, FCs}) -> length(FCs) =< ?MAX_CLAUSES end, Funs)
        andalso count(Cs) =< ?MAX_NODES
        andalso lists:max([0 | [depth(E, Ctx) || E <- Exprs]]) =< ?MAX_DEPTH
        andalso lints(Funs, K).

-spec count(term()) -> non_neg_integer().
count(T) when is_tuple(T) -> 1 + count(tuple_to_list(T));
count(L) when is_list(L) -> lists:sum([count(E) || E <- L]);
count(_) -> 0.

-spec depth(node_(), ctx()) -> pos_integer().
depth(N, Ctx) -> 1 + lists:max([0 | [depth(C, Ctx) || C <- tchildren_any(N)]]).

-spec lints([tuple()], pos_integer()) -> boolean().
lints(Funs, K) ->
    {function, _, F, Ar, _} = lists:nth(K, Funs),
    Forms = [{attribute, ?A, module, genome}, {attribute, ?A, export, exports(F, Ar, Funs)} | Funs],
    case erl_lint:module(Forms) of
        {ok, _} -> true;
        _ -> false
    end.

%% ---- helpers -------------------------------------------------------------------------

%% An expression of type T can stand where Want is required: they unify, and
%% an expression of unknown type goes only where any is wanted.
-spec fits_type(petri_types:type(), petri_types:type()) -> boolean().
fits_type(T, Want) ->
    (T =/= any orelse Want =:= any) andalso petri_types:unify(T, Want, []) =/= error.

-spec subset([T], [T]) -> boolean().
subset(A, B) -> lists:all(fun(X) -> lists:member(X, B) end, A).

-spec pick([T], rs()) -> {T, rs()}.
pick(List, S0) ->
    {I, S1} = rand:uniform_s(length(List), S0),
    {lists:nth(I, List), S1}.

-spec enum([T]) -> [{pos_integer(), T}].
enum(L) -> lists:zip(lists:seq(1, length(L)), L).

-spec setnth(pos_integer(), [T], T) -> [T].
setnth(1, [_ | T], X) -> [X | T];
setnth(N, [H | T], X) -> [H | setnth(N - 1, T, X)].
