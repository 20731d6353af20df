%% petri_mutate - seeded, deterministic mutation and crossover on the syntax
%% tree of the evolved function. (parents, op, seed) -> the same child source,
%% byte for byte, on any VM of the same OTP release.
%%
%% Invariants:
%%  1. Randomness comes only from rand:seed_s(exsss, Seed), threaded
%%     explicitly; no process dictionary, no clock.
%%  2. Mutation sites are the expression nodes of every clause body of the
%%     spec's function: operators, calls and their arguments, variables and
%%     literals; other expressions (case, fun, ...) are opaque leaves that move
%%     as whole subtrees; the pattern side of a match is never touched.
%%  3. A child has at most ?MAX_DEPTH levels and ?MAX_NODES nodes over its
%%     function's bodies and must pass erl_lint; otherwise it falls back to a
%%     point mutation of parent 1 (with the same random stream), and if even
%%     that fails, to a copy of parent 1. The detail text says so.
%%  4. Variables come from the clause heads of the receiving clause (so a
%%     child never uses an unbound argument); crossover renames the donor's
%%     argument variables to the receiver's, position by position.
%%
%% Operators (op strings): "point", "swap", "subtree", "crossover" (2 parents),
%% "hoist", "shrink", "random" (no parents); all others take 1 parent. These
%% work as above on a numeric primitive set. With a typed set (an op string
%% with a signature, petri_spec:signatures/1) every operator, and on any set
%% the program operators ("call_swap", "literal", "pattern", "guard",
%% "clause_add", "clause_del", "clause_swap", "clause_xover" (2 parents),
%% "helper", "inline", "fold", "recurse", "wrap"), go to petri_prog, on the whole
%% module; invariants 1 and 3 hold there too (caps: petri_prog).
%% Statuses of a CHILD:
%%   ok             a child (detail empty, or naming a fallback)
%%   parse_error    a parent does not parse (detail "parent N: ...")
%%   compile_error  a parent does not define the spec's function/arity
%%   unsupported    the request itself is wrong: unknown op, wrong number of
%%                  parents, bad primitive set, vars unusable for "random",
%%                  or an Elixir genome (breeding works on Erlang only)
-module(petri_mutate).

-export([breed/4, breed_forms/4, ops/0, cache_init/0, breeder/0, breeder/1, breeder_modules/0]).

-define(MAX_DEPTH, 12).
-define(MAX_NODES, 200).
-define(SUBTREE_DEPTH, 3).
-define(RANDOM_DEPTH, 4).
-define(CACHE, petri_parents).  % parsed parents, see cache_init/0
-define(CACHE_MAX, 1024).
-define(A, 1).   % every annotation of a child (line 1)

-type rs() :: rand:state().
-type node_() :: tuple().   % an erl_parse expression node (its annotations are built as plain integers, which erl_anno's opaque type does not admit)
-type clause() :: {clause, term(), [term()], [term()], [node_()]}.
-type site() :: {pos_integer(), pos_integer(), [pos_integer()]}.
-type ctx() :: #{prims := [petri_spec:prim()], spec := petri_wire:spec()}.
-type parent() :: {[erl_parse:abstract_form()], pos_integer()}.  % functions, index of the evolved one
-type op_result() :: {ok, parent(), rs()} | {fallback, iodata(), rs()}.

%% The modules whose code decides a child: petri's breeding modules and the
%% OTP modules they parse, check, print and draw random numbers with.
%% petri_mutate_tests checks that every petri module these call is here.
-spec breeder_modules() -> [module()].
breeder_modules() ->
    [petri_mutate, petri_prog, petri_sites, petri_gen, petri_types, petri_spec, petri_loader,
     petri_safety, petri_std, petri_elixir,
     erl_parse, erl_scan, erl_anno, erl_lint, erl_pp, erl_internal, erl_expand_records,
     io_lib, io_lib_format, io_lib_pretty, lists, maps, rand, string, unicode].

%% The breeder's identity: MD5 of the OTP release, the emulator's version
%% (its BIFs print floats) and the object code of breeder_modules(). Two VMs with the same identity derive the same child
%% from the same parents, operator and seed; the lineage records it with each
%% child (store.h, version 4) so a replay on another breeder says so instead
%% of reporting a forgery.
-spec breeder() -> <<_:128>>.
breeder() -> breeder(breeder_modules()).

-spec breeder([module()]) -> <<_:128>>.
breeder(Mods) ->
    erlang:md5([erlang:system_info(otp_release), 0, erlang:system_info(version), 0
                | [[atom_to_binary(M), 0, M:module_info(md5)] || M <- Mods]]).

%% Operator name -> number of parents.
-spec ops() -> [{binary(), 0..2}].
ops() ->
    [{<<"point">>, 1}, {<<"swap">>, 1}, {<<"subtree">>, 1}, {<<"crossover">>, 2},
     {<<"hoist">>, 1}, {<<"shrink">>, 1}, {<<"random">>, 0}] ++ petri_prog:ops().

-spec breed(petri_wire:spec(), binary(), non_neg_integer(), [binary()]) ->
          {petri_wire:status(), binary(), binary()}.
breed(Spec, Op, Seed, Parents) ->
    case breed_forms(Spec, Op, Seed, Parents) of
        {ok, Source, _, Detail} -> {ok, Source, Detail};
        Failed -> Failed
    end.

%% breed/4, and the child's module as forms when they are exactly what its
%% source parses to: {Forms, Linted} (Linted: the functions passed erl_lint
%% here), or none (a parent's construct went through erl_pp). A VM that
%% scores the child at once compiles these instead of parsing the text again.
-spec breed_forms(petri_wire:spec(), binary(), non_neg_integer(), [binary()]) ->
          {ok, binary(), {[erl_parse:abstract_form()], boolean()} | none, binary()}
        | {petri_wire:status(), binary(), binary()}.
breed_forms(Spec, Op, Seed, Parents) ->
    try
        do_breed(Spec, Op, Seed, Parents)
    catch
        throw:{fail, St, Detail} ->
            {St, <<>>, iolist_to_binary(Detail)};
        C:R ->
            {internal, <<>>, iolist_to_binary(io_lib:format("breeding failed: ~p:~0P", [C, R, 10]))}
    end.

-spec do_breed(petri_wire:spec(), binary(), non_neg_integer(), [binary()]) ->
          {ok, binary(), {[erl_parse:abstract_form()], boolean()} | none, binary()}.
do_breed(Spec, Op, Seed, Parents) ->
    petri_spec:language(Spec) =:= erlang orelse
        fail(unsupported, "breeding is supported for Erlang genomes only", []),
    case petri_spec:validate(Spec) of
        ok -> ok;
        {error, D} -> fail(unsupported, "~s", [D])
    end,
    Typed = case signatures(Spec) of
                {ok, T} -> T;
                {error, D2} -> fail(unsupported, "~s", [D2])
            end,
    Prims = case Typed of
                none ->
                    case petri_spec:primitives(Spec) of
                        {ok, P} -> P;
                        {error, D3} -> fail(unsupported, "~s", [D3])
                    end;
                _ -> []
            end,
    N = case lists:keyfind(Op, 1, ops()) of
            {_, Count} -> Count;
            false -> fail(unsupported, "unknown operator \"~ts\"", [Op])
        end,
    length(Parents) =:= N orelse
        fail(unsupported, "operator ~s needs ~b parent(s), got ~b", [Op, N, length(Parents)]),
    Ctx = #{prims => Prims, spec => Spec},
    S0 = rand:seed_s(exsss, Seed),
    Fn = petri_spec:function(Spec),
    Ar = petri_spec:arity(Spec),
    Parsed = [parent(I, P, Fn, Ar) || {I, P} <- lists:zip(lists:seq(1, N), Parents)],
    Program = Typed =/= none orelse lists:keymember(Op, 1, petri_prog:ops()),
    {Funs, Linted, Detail} = case Program of
                                 true -> prog_child(Op, Parsed, prog_ctx(Spec, Typed, Prims), S0);
                                 false -> child(Op, Parsed, Ctx, S0)
                             end,
    {Source, Direct} = render(Fn, Ar, Funs),
    Forms = case Direct of
                true -> {[{attribute, ?A, module, genome},
                          {attribute, ?A, export, petri_prog:exports(Fn, Ar, Funs)} | Funs],
                         Linted};
                false -> none
            end,
    {ok, Source, Forms, iolist_to_binary(Detail)}.

-spec fail(petri_wire:status(), io:format(), [term()]) -> no_return().
fail(St, Fmt, Args) -> throw({fail, St, io_lib:format(Fmt, Args)}).

%% Creates the VM's cache of parsed parents (petri_node calls it once; without
%% it every breeding parses its parents). Selection keeps choosing the same
%% few parents, and parsing + normalizing them is ~40% of a breeding. A hit
%% is the same term a fresh parse gives, so children do not depend on it.
%% At ?CACHE_MAX entries the cache starts over.
-spec cache_init() -> ok.
cache_init() ->
    _ = ets:new(?CACHE, [named_table, public, set]),
    ok.

%% petri_spec:signatures/1, through the cache (a population breeds under
%% one spec; its signatures are parsed once).
-spec signatures(petri_wire:spec()) -> {ok, none | petri_spec:typed()} | {error, binary()}.
signatures(#{ops := Ops} = Spec) ->
    case ets:whereis(?CACHE) of
        undefined -> petri_spec:signatures(Spec);
        T ->
            Key = {signatures, Ops, petri_spec:arity(Spec)},
            case ets:lookup(T, Key) of
                [{_, R}] -> R;
                [] ->
                    R = petri_spec:signatures(Spec),
                    ets:info(T, size) >= ?CACHE_MAX andalso ets:delete_all_objects(T),
                    ets:insert(T, {Key, R}),
                    R
            end
    end.

-spec parent(pos_integer(), binary(), atom(), arity()) -> parent().
parent(I, Source, Fn, Ar) ->
    case ets:whereis(?CACHE) of
        undefined -> parse_parent(I, Source, Fn, Ar);
        T ->
            Key = {Source, Fn, Ar},
            case ets:lookup(T, Key) of
                [{_, P}] -> P;
                [] ->
                    P = parse_parent(I, Source, Fn, Ar),   % throws on a bad parent: not cached
                    ets:info(T, size) >= ?CACHE_MAX andalso ets:delete_all_objects(T),
                    ets:insert(T, {Key, P}),
                    P
            end
    end.

-spec parse_parent(pos_integer(), binary(), atom(), arity()) -> parent().
%% A parent: {Functions, index of the spec function} with normalized trees.
parse_parent(I, Source, Fn, Ar) ->
    case petri_loader:parse(Source) of
        {ok, Forms} ->
            Funs = [normalize(F) || {function, _, _, _, _} = F <- Forms],
            case [K || {K, {function, _, F, A, _}} <- lists:zip(lists:seq(1, length(Funs)), Funs),
                       F =:= Fn, A =:= Ar] of
                [K | _] -> {Funs, K};
                [] -> fail(compile_error, "parent ~b does not define ~p/~b", [I, Fn, Ar])
            end;
        {error, _, D} -> fail(parse_error, "parent ~b: ~s", [I, D])
    end.

-spec normalize(erl_parse:abstract_form()) -> erl_parse:abstract_form().
%% Annotations to ?A and negative literals folded, so trees compare and print
%% the same way whatever their origin.
normalize(Form) ->
    fold_neg(erl_parse:map_anno(fun(_) -> erl_anno:new(?A) end, Form)).

-spec fold_neg(term()) -> term().
fold_neg({op, A, '-', {integer, _, I}}) -> {integer, A, -I};
fold_neg({op, A, '-', {float, _, F}}) -> {float, A, -F};
fold_neg(T) when is_tuple(T) -> list_to_tuple([fold_neg(E) || E <- tuple_to_list(T)]);
fold_neg(L) when is_list(L) -> [fold_neg(E) || E <- L];
fold_neg(X) -> X.

%% ---- operators ------------------------------------------------------------------

%% {Functions, Linted (they passed erl_lint), Detail}
-spec child(binary(), [parent()], ctx(), rs()) -> {[erl_parse:abstract_form()], boolean(), iodata()}.
child(<<"random">>, [], Ctx, S0) ->
    Spec = maps:get(spec, Ctx),
    Vars = petri_spec:vars(Spec),
    length(Vars) =:= petri_spec:arity(Spec) orelse
        fail(unsupported, "random needs one var per argument", []),
    lists:all(fun is_var_name/1, Vars) orelse
        fail(unsupported, "vars must be Erlang variable names", []),
    {Depth, S1} = rand:uniform_s(?RANDOM_DEPTH, S0),
    {Method, S2} = pick([full, grow], S1),
    Body = random_tree(Method, Depth, Vars, Ctx, S2),
    Fn = petri_spec:function(Spec),
    F = {function, ?A, Fn, length(Vars),
         [{clause, ?A, [{var, ?A, V} || V <- Vars], [], [Body]}]},
    {[F], false, ""};
child(Op, [P1 | _] = Parents, Ctx, S0) ->
    case apply_op(Op, Parents, Ctx, S0) of
        {ok, Child, _} ->
            case acceptable(Child) of
                true -> {forms(Child), true, ""};
                false -> fallback(P1, Ctx, S0, "child too large or invalid")
            end;
        {fallback, Why, S1} ->
            fallback(P1, Ctx, S1, Why)
    end.

%% ---- program operators (petri_prog) ------------------------------------------------

%% The typed context: the spec's signatures, or for a numeric spec its
%% primitives with every type any.
-spec prog_ctx(petri_wire:spec(), none | petri_spec:typed(), [petri_spec:prim()]) -> petri_gen:ctx().
prog_ctx(Spec, Typed, Prims) ->
    Ar = petri_spec:arity(Spec),
    {Entry, Sigs} = case Typed of
                        none ->
                            {{lists:duplicate(Ar, any), any},
                             [{P, {lists:duplicate(petri_spec:prim_arity(P), any), any}} || P <- Prims]};
                        _ -> Typed
                    end,
    #{spec => Spec, entry => Entry, prims => Sigs, fn => petri_spec:function(Spec), ar => Ar}.

%% As child/4 for typed specs and the program operators; the fallback is a
%% typed point mutation of parent 1, then a copy.
-spec prog_child(binary(), [parent()], petri_gen:ctx(), rs()) ->
          {[erl_parse:abstract_form()], boolean(), iodata()}.
prog_child(<<"random">>, [], #{spec := Spec} = C, S0) ->
    Vars = petri_spec:vars(Spec),
    length(Vars) =:= petri_spec:arity(Spec) orelse
        fail(unsupported, "random needs one var per argument", []),
    lists:all(fun is_var_name/1, Vars) orelse
        fail(unsupported, "vars must be Erlang variable names", []),
    Gen = petri_prog:random(Vars, C),
    prog_random(Gen, C, S0, 5);
prog_child(Op, [P1 | _] = Parents, C, S0) ->
    case petri_prog:apply_op(Op, Parents, C, S0) of
        {ok, Child, _} ->
            case petri_prog:acceptable(Child, C) of
                true -> {forms(Child), true, ""};
                false -> prog_fallback(P1, C, S0, "child too large or invalid")
            end;
        {fallback, Why, S1} ->
            prog_fallback(P1, C, S1, Why)
    end.

%% A random function that passes the checks; after Tries draws, the
%% shallowest tree (depth 0: a terminal).
-spec prog_random(fun((rs()) -> tuple()), petri_gen:ctx(), rs(), non_neg_integer()) ->
          {[erl_parse:abstract_form()], boolean(), iodata()}.
prog_random(Gen, C, S0, Tries) ->
    F = Gen(S0),
    case Tries =:= 0 orelse petri_prog:acceptable({[F], 1}, C) of
        true -> {[F], false, ""};
        false ->
            {_, S1} = rand:uniform_s(S0),
            prog_random(Gen, C, S1, Tries - 1)
    end.

-spec prog_fallback(parent(), petri_gen:ctx(), rs(), iodata()) ->
          {[erl_parse:abstract_form()], boolean(), iodata()}.
prog_fallback(P1, C, S, Why) ->
    case petri_prog:apply_op(<<"point">>, [P1], C, S) of
        {ok, Child, _} ->
            case petri_prog:acceptable(Child, C) of
                true -> {forms(Child), true, [Why, "; point mutation of parent 1 instead"]};
                false -> {forms(P1), false, [Why, "; copy of parent 1"]}
            end;
        {fallback, Why2, _} ->
            {forms(P1), false, [Why, "; ", Why2, "; copy of parent 1"]}
    end.

-spec random_tree(full | grow, non_neg_integer(), [atom()], ctx(), rs()) -> node_().
%% Wide primitives can make a depth-4 tree exceed the node cap: retry shallower.
random_tree(Method, Depth, Vars, Ctx, S) ->
    {T, _} = gen(Method, Depth, Vars, Ctx, S),
    case Depth > 0 andalso (depth(T) > ?MAX_DEPTH orelse node_count(T) > ?MAX_NODES) of
        true -> random_tree(Method, Depth - 1, Vars, Ctx, S);
        false -> T
    end.

-spec fallback(parent(), ctx(), rs(), iodata()) -> {[erl_parse:abstract_form()], boolean(), iodata()}.
fallback(P1, Ctx, S, Why) ->
    case point(P1, Ctx, S) of
        {ok, Child, _} ->
            case acceptable(Child) of
                true -> {forms(Child), true, [Why, "; point mutation of parent 1 instead"]};
                false -> {forms(P1), false, [Why, "; copy of parent 1"]}
            end;
        {fallback, Why2, _} ->
            {forms(P1), false, [Why, "; ", Why2, "; copy of parent 1"]}
    end.

-spec apply_op(binary(), [parent()], ctx(), rs()) -> op_result().
apply_op(<<"point">>, [P], Ctx, S) -> point(P, Ctx, S);
apply_op(<<"swap">>, [P], Ctx, S) -> swap(P, Ctx, S);
apply_op(<<"subtree">>, [P], Ctx, S) -> subtree(P, Ctx, S);
apply_op(<<"crossover">>, [P1, P2], _Ctx, S) -> crossover(P1, P2, S);
apply_op(<<"hoist">>, [P], _Ctx, S) -> hoist(P, S);
apply_op(<<"shrink">>, [P], Ctx, S) -> shrink(P, Ctx, S).

-spec point(parent(), ctx(), rs()) -> op_result().
%% point: a terminal changes: a constant is perturbed within [min, max], a
%% variable becomes another argument variable (or a constant when the clause
%% has only one).
point(P, Ctx, S0) ->
    Sites = [St || {St, N} <- sites(P), terminal(N)],
    case Sites of
        [] -> {fallback, "no terminal to mutate", S0};
        _ ->
            {Site, S1} = pick(Sites, S0),
            Old = get(P, Site),
            Vars = head_vars(P, Site),
            {New, S2} = case Old of
                            {var, _, V} ->
                                case lists:delete(V, Vars) of
                                    [] -> const(Ctx, S1);
                                    Others ->
                                        {V2, S} = pick(Others, S1),
                                        {{var, ?A, V2}, S}
                                end;
                            _ -> perturb(Old, Ctx, S1)
                        end,
            {ok, put(P, Site, New), S2}
    end.

-spec swap(parent(), ctx(), rs()) -> op_result().
%% swap: a binary operator becomes another binary operator of the primitive
%% set, or a call becomes another primitive function of the same arity.
swap(P, #{prims := Prims} = Ctx, S0) ->
    BinOps = [Op || {binop, Op} <- Prims],
    Sites = [{St, Alts} || {St, N} <- sites(P), (Alts = alternatives(N, BinOps, Prims)) =/= []],
    case Sites of
        [] ->
            case point(P, Ctx, S0) of
                {ok, C, S} -> {ok, C, S};
                Fb -> Fb
            end;
        _ ->
            {{Site, Alts}, S1} = pick(Sites, S0),
            {Alt, S2} = pick(Alts, S1),
            {ok, put(P, Site, swap_node(get(P, Site), Alt)), S2}
    end.

-spec alternatives(node_(), [atom()], [petri_spec:prim()]) -> [petri_spec:prim()].
alternatives({op, _, Op, _, _}, BinOps, _) ->
    case lists:member(Op, BinOps) of
        true -> [{binop, O} || O <- BinOps, O =/= Op];
        false -> []
    end;
alternatives({call, _, F, Args}, _, Prims) ->
    Ar = length(Args),
    Me = case F of
             {atom, _, Name} -> {fn, none, Name, Ar};
             {remote, _, {atom, _, M}, {atom, _, Name}} -> {fn, M, Name, Ar};
             _ -> none
         end,
    case lists:member(Me, Prims) of
        true -> [Fp || {fn, _, _, A} = Fp <- Prims, A =:= Ar, Fp =/= Me];
        false -> []
    end;
alternatives(_, _, _) -> [].

-spec swap_node(node_(), petri_spec:prim()) -> node_().
swap_node({op, A, _, L, R}, {binop, Op}) -> {op, A, Op, L, R};
swap_node({call, A, _, Args}, {fn, M, Name, _}) -> {call, A, callee(M, Name), Args}.

-spec subtree(parent(), ctx(), rs()) -> op_result().
%% subtree: a random node is replaced by a tree grown from the primitive set.
subtree(P, Ctx, S0) ->
    {Site, S1} = pick([St || {St, _} <- sites(P)], S0),
    {Depth, S2} = rand:uniform_s(?SUBTREE_DEPTH + 1, S1),
    {New, S3} = gen(grow, Depth - 1, head_vars(P, Site), Ctx, S2),
    {ok, put(P, Site, New), S3}.

-spec crossover(parent(), parent(), rs()) -> op_result().
%% crossover: a random subtree of parent 2 replaces a random node of parent 1.
crossover(P1, P2, S0) ->
    {Site1, S1} = pick([St || {St, _} <- sites(P1)], S0),
    {Site2, S2} = pick([St || {St, _} <- sites(P2)], S1),
    Donor = rename_vars(get(P2, Site2), arg_map(P2, Site2, P1, Site1)),
    {ok, put(P1, Site1, Donor), S2}.

-spec hoist(parent(), rs()) -> op_result().
%% hoist: a clause's value expression is replaced by one of its own subtrees.
hoist(P, S0) ->
    Sites = [St || {{_, _, Path} = St, _} <- sites(P), Path =/= [], last_expr(P, St)],
    case Sites of
        [] -> {fallback, "nothing to hoist", S0};
        _ ->
            {{CI, EI, _} = Site, S1} = pick(Sites, S0),
            {ok, put(P, {CI, EI, []}, get(P, Site)), S1}
    end.

-spec shrink(parent(), ctx(), rs()) -> op_result().
%% shrink: a non-terminal node is replaced by a random terminal.
shrink(P, Ctx, S0) ->
    Sites = [St || {St, N} <- sites(P), children(N) =/= []],
    case Sites of
        [] -> {fallback, "nothing to shrink", S0};
        _ ->
            {Site, S1} = pick(Sites, S0),
            {New, S2} = terminal_node(head_vars(P, Site), Ctx, S1),
            {ok, put(P, Site, New), S2}
    end.

%% ---- random trees -----------------------------------------------------------------

-spec gen(full | grow, non_neg_integer(), [atom()], ctx(), rs()) -> {node_(), rs()}.
gen(_, 0, Vars, Ctx, S) ->
    terminal_node(Vars, Ctx, S);
gen(Method, Depth, Vars, #{prims := Prims} = Ctx, S0) ->
    NT = length(Vars) + 1,
    NF = length(Prims),
    {R, S1} = rand:uniform_s(NT + NF, S0),
    case NF =:= 0 orelse (Method =:= grow andalso R =< NT) of
        true -> terminal_node(Vars, Ctx, S1);
        false ->
            {Prim, S2} = pick(Prims, S1),
            Ar = case Prim of {binop, _} -> 2; {fn, _, _, A} -> A end,
            {Args, S3} = lists:foldl(fun(_, {Acc, Sx}) ->
                                             {T, Sy} = gen(Method, Depth - 1, Vars, Ctx, Sx),
                                             {[T | Acc], Sy}
                                     end, {[], S2}, lists:seq(1, Ar)),
            {prim_node(Prim, lists:reverse(Args)), S3}
    end.

-spec prim_node(petri_spec:prim(), [node_()]) -> node_().
prim_node({binop, Op}, [L, R]) -> {op, ?A, Op, L, R};
prim_node({fn, M, Name, _}, Args) -> {call, ?A, callee(M, Name), Args}.

-spec callee(atom(), atom()) -> term().
callee(none, Name) -> {atom, ?A, Name};
callee(M, Name) -> {remote, ?A, {atom, ?A, M}, {atom, ?A, Name}}.

-spec terminal_node([atom()], ctx(), rs()) -> {node_(), rs()}.
terminal_node([], Ctx, S) -> const(Ctx, S);
terminal_node(Vars, Ctx, S0) ->
    {I, S1} = rand:uniform_s(length(Vars) + 1, S0),
    case I > length(Vars) of
        true -> const(Ctx, S1);
        false -> {{var, ?A, lists:nth(I, Vars)}, S1}
    end.

-spec const(ctx(), rs()) -> {node_(), rs()}.
const(#{spec := #{const_int := true} = Spec}, S0) ->
    {Lo, Hi} = int_range(Spec),
    {I, S1} = rand:uniform_s(Hi - Lo + 1, S0),
    {{integer, ?A, Lo + I - 1}, S1};
const(#{spec := #{const_min := Min, const_max := Max}}, S0) ->
    {U, S1} = rand:uniform_s(S0),
    {{float, ?A, round4(Min + U * (Max - Min))}, S1}.

-spec perturb(node_(), ctx(), rs()) -> {node_(), rs()}.
%% A constant moves by up to a tenth of the range (or is redrawn), clamped.
perturb(Old, #{spec := Spec} = Ctx, S0) ->
    {Coin, S1} = rand:uniform_s(2, S0),
    case Coin of
        1 -> const(Ctx, S1);
        2 ->
            V = case Old of {integer, _, I} -> I; {float, _, F} -> F end,
            #{const_min := Min, const_max := Max} = Spec,
            case Spec of
                #{const_int := true} ->
                    {Lo, Hi} = int_range(Spec),
                    Step = max(1, round((Hi - Lo) / 10)),
                    {D, S2} = rand:uniform_s(2 * Step, S1),
                    Delta = if D =< Step -> D - Step - 1; true -> D - Step end,
                    {{integer, ?A, clamp(round(V) + Delta, Lo, Hi)}, S2};
                _ ->
                    {U, S2} = rand:uniform_s(S1),
                    Delta = (U * 2 - 1) * (Max - Min) / 10,
                    {{float, ?A, round4(clamp(float(V) + Delta, Min, Max))}, S2}
            end
    end.

-spec int_range(petri_wire:spec()) -> {integer(), integer()}.
int_range(#{const_min := Min, const_max := Max}) ->
    Lo = ceil(Min),
    Hi = floor(Max),
    case Lo =< Hi of
        true -> {Lo, Hi};
        false -> {round(Min), round(Min)}
    end.

-spec clamp(number(), number(), number()) -> number().
clamp(V, Lo, Hi) -> min(Hi, max(Lo, V)).

-spec round4(number()) -> float().
round4(F) -> round(F * 10000) / 10000.

%% ---- trees: sites, get, put -----------------------------------------------------

-spec children(node_()) -> [node_()].
children({op, _, _, L, R}) -> [L, R];
children({op, _, _, X}) -> [X];
children({call, _, _, Args}) -> Args;
children({match, _, _, E}) -> [E];
children(_) -> [].

-spec set_children(node_(), [node_()]) -> node_().
set_children({op, A, Op, _, _}, [L, R]) -> {op, A, Op, L, R};
set_children({op, A, Op, _}, [X]) -> {op, A, Op, X};
set_children({call, A, F, _}, Args) -> {call, A, F, Args};
set_children({match, A, P, _}, [E]) -> {match, A, P, E};
set_children(N, _) -> N.

-spec terminal(node_()) -> boolean().
terminal({var, _, '_'}) -> false;
terminal({var, _, _}) -> true;
terminal({integer, _, _}) -> true;
terminal({float, _, _}) -> true;
terminal(_) -> false.

-spec clauses(parent()) -> [clause()].
%% The spec function's clauses of a parent.
clauses({Funs, K}) ->
    {function, _, _, _, Cs} = lists:nth(K, Funs),
    Cs.

-spec set_clauses(parent(), [clause()]) -> parent().
set_clauses({Funs, K}, Cs) ->
    {function, A, F, Ar, _} = lists:nth(K, Funs),
    {setnth(K, Funs, {function, A, F, Ar, Cs}), K}.

%% Every site in a fixed preorder: {{Clause, BodyExpr, Path}, Node}.
%% Match nodes are not sites (their value side is).
-spec sites(parent()) -> [{site(), node_()}].
sites(P) ->
    lists:append(
      [lists:append([walk(E, {CI, EI, []}) || {EI, E} <- enum(Body)])
       || {CI, {clause, _, _, _, Body}} <- enum(clauses(P))]).

-spec walk(node_(), site()) -> [{site(), node_()}].
walk(N, {CI, EI, Path} = Site) ->
    Here = case N of
               {match, _, _, _} -> [];
               _ -> [{Site, N}]
           end,
    Here ++ lists:append([walk(C, {CI, EI, Path ++ [I]}) || {I, C} <- enum(children(N))]).

-spec get(parent(), site()) -> node_().
get(P, {CI, EI, Path}) ->
    {clause, _, _, _, Body} = lists:nth(CI, clauses(P)),
    get_at(lists:nth(EI, Body), Path).

-spec get_at(node_(), [pos_integer()]) -> node_().
get_at(N, []) -> N;
get_at(N, [I | T]) -> get_at(lists:nth(I, children(N)), T).

-spec put(parent(), site(), node_()) -> parent().
put(P, {CI, EI, Path}, New) ->
    Cs = clauses(P),
    {clause, A, Ps, Gs, Body} = lists:nth(CI, Cs),
    Body2 = setnth(EI, Body, put_at(lists:nth(EI, Body), Path, New)),
    set_clauses(P, setnth(CI, Cs, {clause, A, Ps, Gs, Body2})).

-spec put_at(node_(), [pos_integer()], node_()) -> node_().
put_at(_, [], New) -> New;
put_at(N, [I | T], New) ->
    Cs = children(N),
    set_children(N, setnth(I, Cs, put_at(lists:nth(I, Cs), T, New))).

-spec last_expr(parent(), site()) -> boolean().
last_expr(P, {CI, EI, _}) ->
    {clause, _, _, _, Body} = lists:nth(CI, clauses(P)),
    EI =:= length(Body).

-spec head_vars(parent(), site()) -> [atom()].
%% Variables bound by the head of the site's clause, in order.
head_vars(P, {CI, _, _}) ->
    {clause, _, Ps, _, _} = lists:nth(CI, clauses(P)),
    dedup(pattern_vars(Ps), []).

-spec pattern_vars(term()) -> [atom()].
pattern_vars({var, _, V}) ->
    case atom_to_list(V) of
        "_" ++ _ -> [];
        _ -> [V]
    end;
pattern_vars(T) when is_tuple(T) -> lists:append([pattern_vars(E) || E <- tuple_to_list(T)]);
pattern_vars(L) when is_list(L) -> lists:append([pattern_vars(E) || E <- L]);
pattern_vars(_) -> [].

-spec arg_map(parent(), site(), parent(), site()) -> #{atom() => atom()}.
%% Donor argument variable -> receiver argument variable, by position.
arg_map(P2, {CI2, _, _}, P1, {CI1, _, _}) ->
    {clause, _, Ps2, _, _} = lists:nth(CI2, clauses(P2)),
    {clause, _, Ps1, _, _} = lists:nth(CI1, clauses(P1)),
    maps:from_list([{V2, V1} || {{var, _, V2}, {var, _, V1}} <- lists:zip(Ps2, Ps1),
                                V2 =/= '_', V1 =/= '_']).

-spec rename_vars(term(), #{atom() => atom()}) -> term().
rename_vars({var, A, V}, Map) -> {var, A, maps:get(V, Map, V)};
rename_vars(T, Map) when is_tuple(T) -> list_to_tuple([rename_vars(E, Map) || E <- tuple_to_list(T)]);
rename_vars(L, Map) when is_list(L) -> [rename_vars(E, Map) || E <- L];
rename_vars(X, _) -> X.

%% ---- checks and output ---------------------------------------------------------------

-spec forms(parent()) -> [erl_parse:abstract_form()].
forms({Funs, _}) -> Funs.

-spec acceptable(parent()) -> boolean().
acceptable(P) ->
    Exprs = lists:append([Body || {clause, _, _, _, Body} <- clauses(P)]),
    Depth = lists:max([0 | [depth(E) || E <- Exprs]]),
    Nodes = lists:sum([node_count(E) || E <- Exprs]),
    Depth =< ?MAX_DEPTH andalso Nodes =< ?MAX_NODES andalso lints(P).

-spec depth(node_()) -> pos_integer().
depth(N) -> 1 + lists:max([0 | [depth(C) || C <- children(N)]]).

-spec node_count(node_()) -> pos_integer().
node_count(N) -> 1 + lists:sum([node_count(C) || C <- children(N)]).

-spec lints(parent()) -> boolean().
lints({Funs, K}) ->
    {function, _, F, Ar, _} = lists:nth(K, Funs),
    Forms = [{attribute, ?A, module, genome},
             {attribute, ?A, export, petri_prog:exports(F, Ar, Funs)} | Funs],
    case erl_lint:module(Forms) of
        {ok, _} -> true;
        _ -> false
    end.

%% The child's source, and whether every function was printed here (not by
%% erl_pp): then the text parses back to exactly these trees.
-spec render(atom(), arity(), [erl_parse:abstract_form()]) -> {binary(), boolean()}.
render(Fn, Ar, Funs) ->
    Exports = lists:join(", ", [io_lib:format("~p/~b", [N, A])
                                || {N, A} <- petri_prog:exports(Fn, Ar, Funs)]),
    Header = io_lib:format("-module(genome).~n-export([~s]).~n~n", [Exports]),
    Texts = [form(F) || F <- Funs],
    {unicode:characters_to_binary([Header | [[T, $\n] || {_, T} <- Texts]]),
     lists:all(fun({Direct, _}) -> Direct end, Texts)}.

%% A function as source text. What breeding builds (clauses with variable
%% arguments, no guards, bodies of operators, calls, variables and literals)
%% is printed here, one line per body expression, parenthesized by
%% erl_parse's operator precedences as erl_pp does, so the text parses back
%% to the same tree. Anything else a parent brought goes to erl_pp. erl_pp
%% lays out lines and was over half of a breeding's time for trees of ~100
%% nodes. The choice depends on the forms alone: the same forms give the same
%% bytes on any VM.
-spec form(erl_parse:abstract_form()) -> {boolean(), iodata()}.
form({function, _, Name, _, Clauses} = F) ->
    try
        {true, [lists:join(";\n", [clause(Name, C) || C <- Clauses]), ".\n"]}
    catch
        _:_ -> {false, erl_pp:form(unfold_neg(F))}
    end.

%% erl_pp prints a minus before a negative literal as "--1" (the list
%% subtraction operator): it gets the tree the parser builds for "- -1".
-spec unfold_neg(term()) -> term().
unfold_neg({integer, A, I}) when I < 0 -> {op, A, '-', {integer, A, -I}};
unfold_neg({float, A, F}) when F < 0 -> {op, A, '-', {float, A, -F}};
unfold_neg(T) when is_tuple(T) -> list_to_tuple([unfold_neg(E) || E <- tuple_to_list(T)]);
unfold_neg(L) when is_list(L) -> [unfold_neg(E) || E <- L];
unfold_neg(X) -> X.

-spec clause(atom(), clause()) -> iodata().
clause(Name, {clause, _, Ps, [], [_ | _] = Body}) ->
    [io_lib:write_atom(Name), $(, lists:join(", ", [pvar(P) || P <- Ps]), ") ->\n    ",
     lists:join(",\n    ", [expr(E, 0) || E <- Body])].

-spec pvar(term()) -> string().
pvar({var, _, V}) -> atom_to_list(V).

%% An expression in a context of precedence Prec (0 at the top).
-spec expr(node_(), non_neg_integer()) -> iodata().
expr({var, _, V}, _) -> atom_to_list(V);
expr({integer, _, I}, _) -> integer_to_list(I);
expr({float, _, F}, _) -> float_to_list(F, [short]);
expr({atom, _, A}, _) -> io_lib:write_atom(A);
expr({op, _, Op, L, R}, Prec) ->
    {LP, P, RP} = erl_parse:inop_prec(Op),
    paren(P, Prec, [expr(L, LP), $\s, atom_to_list(Op), $\s, expr(R, RP)]);
expr({op, _, Op, X}, Prec) ->
    {P, RP} = erl_parse:preop_prec(Op),
    Arg = expr(X, RP),
    Sep = case is_symbol(Op) andalso not signed(X) of
              true -> "";
              false -> " "   % "not X", "- -1" (never "--1", another operator)
          end,
    paren(P, Prec, [atom_to_list(Op), Sep, Arg]);
expr({call, _, {atom, _, F}, Args}, _) ->
    [io_lib:write_atom(F), args(Args)];
expr({call, _, {remote, _, {atom, _, M}, {atom, _, F}}, Args}, _) ->
    [io_lib:write_atom(M), $:, io_lib:write_atom(F), args(Args)].

-spec args([node_()]) -> iodata().
args(Args) -> [$(, lists:join(", ", [expr(A, 0) || A <- Args]), $)].

-spec paren(non_neg_integer(), non_neg_integer(), iodata()) -> iodata().
paren(P, Prec, Text) when P < Prec -> [$(, Text, $)];
paren(_, _, Text) -> Text.

-spec is_symbol(atom()) -> boolean().
is_symbol(Op) -> Op =:= '-' orelse Op =:= '+'.

%% Whether the operand prints with a leading sign (a negative literal).
-spec signed(node_()) -> boolean().
signed({integer, _, I}) -> I < 0;
signed({float, _, F}) -> hd(float_to_list(F, [short])) =:= $-;
signed(_) -> false.

%% ---- helpers ------------------------------------------------------------------------

-spec pick([T], rs()) -> {T, rs()}.
pick(List, S0) ->
    {I, S1} = rand:uniform_s(length(List), S0),
    {lists:nth(I, List), S1}.

-spec enum([T]) -> [{pos_integer(), T}].
enum(L) -> lists:zip(lists:seq(1, length(L)), L).

-spec setnth(pos_integer(), [T], T) -> [T].
setnth(1, [_ | T], X) -> [X | T];
setnth(N, [H | T], X) -> [H | setnth(N - 1, T, X)].

-spec dedup([T], [T]) -> [T].
dedup([], Acc) -> lists:reverse(Acc);
dedup([X | T], Acc) ->
    case lists:member(X, Acc) of
        true -> dedup(T, Acc);
        false -> dedup(T, [X | Acc])
    end.

-spec is_var_name(atom()) -> boolean().
is_var_name(V) ->
    case atom_to_list(V) of
        [C | _] when C >= $A, C =< $Z; C =:= $_ -> true;
        _ -> false
    end.
