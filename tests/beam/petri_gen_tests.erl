%% petri_gen_tests - typed generation: expressions have the type asked for,
%% the same state gives the same tree, inference of primitive calls.
-module(petri_gen_tests).
-include_lib("eunit/include/eunit.hrl").

ctx(Ops) ->
    Spec = petri_spec:new(#{ops => [<<"types :: list(int) -> list(int)">> | Ops]}),
    {ok, {Entry, Prims}} = petri_spec:signatures(Spec),
    #{spec => Spec, entry => Entry, prims => Prims, fn => f, ar => 1}.

ops() ->
    [<<"lists:reverse/1 :: list(T) -> list(T)">>, <<"length/1 :: list(T) -> int">>,
     <<"lists:filter/2 :: fun(T -> bool), list(T) -> list(T)">>, <<"+">>, <<"<">>, <<"not">>].

env() -> [{{var, 1, 'L'}, {list, int}}].

%% Every generated expression evaluates to a value of the type asked for.
gen_types_test() ->
    Ctx = ctx(ops()),
    Checks = [{int, fun erlang:is_integer/1}, {bool, fun erlang:is_boolean/1},
              {{list, int}, fun erlang:is_list/1}, {binary, fun erlang:is_binary/1},
              {map, fun erlang:is_map/1}, {float, fun erlang:is_float/1},
              {{tuple, [{list, int}, int]},
               fun({L, N}) -> is_list(L) andalso is_integer(N); (_) -> false end},
              {{tuple, [bool, {tuple, [float, int]}]},
               fun({B, {F, N}}) -> is_boolean(B) andalso is_float(F) andalso is_integer(N);
                  (_) -> false
               end},
              {{fn, [int], bool}, fun(F) -> is_function(F, 1) andalso is_boolean(F(3)) end}],
    lists:foreach(
      fun({{T, Is}, Seed}) ->
              S = rand:seed_s(exsss, Seed),
              {E, _} = petri_gen:gen(T, 3, env(), Ctx, S),
              ?assertEqual({E, element(2, petri_gen:gen(T, 3, env(), Ctx, S))},
                           petri_gen:gen(T, 3, env(), Ctx, S)),
              {value, V, _} = erl_eval:expr(E, #{'L' => [3, -1, 2]}),
              ?assert(Is(V), {T, Seed, E})
      end, [{C, Seed} || C <- Checks, Seed <- lists:seq(1, 40)]).

%% A generated fun's body mentions its parameter more often than a body
%% drawn once would (six tries): of 100 funs int -> bool at depth 2, 62 use
%% their parameter where 21 of 100 such bodies drawn once do.
fun_uses_param_test() ->
    Ctx = ctx(ops()),
    Seeds = lists:seq(1, 100),
    Funs = [F || Seed <- Seeds,
                 {F, _} <- [petri_gen:gen({fn, [int], bool}, 2, env(), Ctx,
                                          rand:seed_s(exsss, Seed))]],
    Uses = [F || {'fun', _, {clauses, [{clause, _, [{var, _, X}], [], [B]}]}} = F <- Funs,
                 lists:member(X, vars(B))],
    Once = [B || Seed <- Seeds,
                 {B, _} <- [petri_gen:gen(bool, 1, [{{var, 1, 'V1'}, int} | env()], Ctx,
                                          rand:seed_s(exsss, Seed))],
                 lists:member('V1', vars(B))],
    ?assert(length(Uses) >= 2 * length(Once), {length(Uses), length(Once)}).

vars({var, _, V}) -> [V];
vars(T) when is_tuple(T) -> vars(tuple_to_list(T));
vars(L) when is_list(L) -> lists:append([vars(X) || X <- L]);
vars(_) -> [].

%% Guards use guard-safe primitives only.
guard_gen_test() ->
    Ctx = (ctx(ops()))#{guard => true},
    lists:foreach(
      fun(Seed) ->
              {G, _} = petri_gen:gen(bool, 3, env(), Ctx, rand:seed_s(exsss, Seed)),
              ?assert(erl_lint:is_guard_test(G), G)
      end, lists:seq(1, 60)).

infer_test() ->
    Ctx = ctx(ops()),
    Call = {call, 1, {remote, 1, {atom, 1, lists}, {atom, 1, reverse}}, [{var, 1, 'L'}]},
    ?assertEqual({list, int}, petri_gen:infer(Call, env(), Ctx)),
    ?assertEqual(int, petri_gen:infer({call, 1, {atom, 1, length}, [Call]}, env(), Ctx)),
    ?assertEqual(bool, petri_gen:infer({op, 1, '<', {integer, 1, 1}, {var, 1, 'L'}}, env(), Ctx)),
    ?assertEqual({list, int}, petri_gen:infer({call, 1, {atom, 1, f}, [{nil, 1}]}, env(), Ctx)),
    ?assertEqual(any, petri_gen:infer({call, 1, {atom, 1, g}, []}, env(), Ctx)),
    Fun = {'fun', 1, {clauses, [{clause, 1, [{var, 1, 'X'}], [], [{var, 1, 'X'}]}]}},
    ?assertEqual([{fn, [int], bool}, {list, int}],
                 petri_gen:param_types({fn, lists, filter, 2}, [Fun, {var, 1, 'L'}], env(), Ctx)).

%% Where no variable has the type, a one-argument primitive of one does:
%% length(L) is an int terminal over a list L, beside the literals; in a
%% guard only guard-safe ones (length(L), never lists:sum(L));
%% where a variable has the type, the variable stays the terminal.
projection_test() ->
    Ctx = ctx(ops()),
    Ts = fun(T, Env, C) -> [E || Seed <- lists:seq(1, 60),
                                 {E, _} <- [petri_gen:terminal(T, Env, C, rand:seed_s(exsss, Seed))]]
         end,
    Ints = Ts(int, env(), Ctx),
    Len = {call, 1, {atom, 1, length}, [{var, 1, 'L'}]},
    ?assert(length([E || E <- Ints, E =:= Len]) >= 10, Ints), % one in three
    ?assert(lists:all(fun(E) -> E =:= Len orelse element(1, E) =:= integer end, Ints), Ints),
    Ctx2 = ctx([<<"hd/1 :: list(T) -> T">>, <<"lists:sum/1 :: list(int) -> int">> | ops()]),
    Lists = Ts({list, int}, [{{var, 1, 'L'}, {list, {list, int}}}], Ctx2),
    ?assert(lists:member({call, 1, {atom, 1, hd}, [{var, 1, 'L'}]}, Lists), Lists),
    Sum = {call, 1, {remote, 1, {atom, 1, lists}, {atom, 1, sum}}, [{var, 1, 'L'}]},
    ?assert(lists:member(Sum, Ts(int, env(), Ctx2))),
    GInts = Ts(int, env(), Ctx2#{guard => true}),
    ?assert(lists:member(Len, GInts) andalso not lists:member(Sum, GInts), GInts),
    ?assertEqual([], [E || {call, _, _, _} = E <- Ts(int, [{{var, 1, 'N'}, int} | env()], Ctx)]).

%% A float literal under integer constants is a whole number of the range
%% (0.0 among the draws); with real constants, any float of the range.
float_literal_test() ->
    Ctx = ctx(ops()),
    Fs = [F || Seed <- lists:seq(1, 80),
               {{float, _, F}, _} <- [petri_gen:literal(float, Ctx, rand:seed_s(exsss, Seed))]],
    ?assertEqual(80, length(Fs)),
    ?assert(lists:all(fun(F) -> F == round(F) andalso F >= -5 andalso F =< 5 end, Fs), Fs),
    ?assert(lists:member(0.0, Fs), Fs),
    Real = Ctx#{spec => (maps:get(spec, Ctx))#{const_int => false}},
    Rs = [F || Seed <- lists:seq(1, 20),
               {{float, _, F}, _} <- [petri_gen:literal(float, Real, rand:seed_s(exsss, Seed))]],
    ?assert(lists:any(fun(F) -> F /= round(F) end, Rs), Rs).

%% The spec's literal primitives appear as terminals of their type.
literal_primitive_test() ->
    Ctx = ctx([<<"<<\"zz\">>">>, <<"[42]">>]),
    Bins = [E || Seed <- lists:seq(1, 60),
                 {E, _} <- [petri_gen:terminal(binary, [], Ctx, rand:seed_s(exsss, Seed))]],
    ?assert(lists:member({bin, 1, [{bin_element, 1, {string, 1, "zz"}, default, default}]}, Bins)),
    Lists = [E || Seed <- lists:seq(1, 60),
                  {E, _} <- [petri_gen:terminal({list, int}, env(), Ctx, rand:seed_s(exsss, Seed))]],
    ?assert(lists:member({cons, 1, {integer, 1, 42}, {nil, 1}}, Lists)),
    ?assert(lists:member({var, 1, 'L'}, Lists)).

%% A tuple of known element types is built from its elements ({L, length(L)}
%% among them); a variable of that tuple type is a terminal of it.
tuple_gen_test() ->
    Ctx = ctx(ops()),
    T = {tuple, [{list, int}, int]},
    Es = [E || Seed <- lists:seq(1, 60),
               {E, _} <- [petri_gen:gen(T, 2, env(), Ctx, rand:seed_s(exsss, Seed))]],
    ?assert(lists:member({tuple, 1, [{var, 1, 'L'}, {call, 1, {atom, 1, length}, [{var, 1, 'L'}]}]},
                         Es), Es),
    [?assertMatch({ok, _}, petri_types:unify(T, petri_gen:infer(E, env(), Ctx), []), E) || E <- Es],
    Pair = {tuple, 1, [{nil, 1}, {var, 1, 'L'}]},
    ?assertEqual({tuple, [{list, any}, {list, int}]}, petri_gen:infer(Pair, env(), Ctx)),
    Env = [{{var, 1, 'P'}, T} | env()],
    Ts = [E || Seed <- lists:seq(1, 30),
               {E, _} <- [petri_gen:terminal(T, Env, Ctx, rand:seed_s(exsss, Seed))]],
    ?assert(lists:member({var, 1, 'P'}, Ts), Ts).

%% The primitive "if" is case C of true -> X; false -> Y end, typed
%% bool, T, T -> T: generated ones have a boolean condition and values of the
%% type asked for, and its type is inferred from its values.
if_gen_test() ->
    Ctx = ctx([<<"if">> | ops()]),
    Ifs = [E || Seed <- lists:seq(1, 200),
                {E, _} <- [petri_gen:gen(int, 3, env(), Ctx, rand:seed_s(exsss, Seed))],
                element(1, E) =:= 'case'],
    ?assert(length(Ifs) >= 5, length(Ifs)),
    %% a condition mentions a variable (one of six draws): not case 3 < 1 of
    Mention = [C || {'case', _, C, _} <- Ifs, vars(C) =/= []],
    ?assert(length(Mention) * 4 >= length(Ifs) * 3, {length(Mention), length(Ifs)}),
    lists:foreach(fun({'case', _, C, [{clause, _, [{atom, _, true}], [], [_]},
                                     {clause, _, [{atom, _, false}], [], [_]}]} = E) ->
                          ?assertEqual(bool, petri_gen:infer(C, env(), Ctx)),
                          ?assertEqual(int, petri_gen:infer(E, env(), Ctx)),
                          {value, V, _} = erl_eval:expr(E, #{'L' => [3, -1, 2]}),
                          ?assert(is_integer(V), E)
                  end, Ifs),
    Lists = [E || Seed <- lists:seq(1, 100),
                  {E, _} <- [petri_gen:gen({list, int}, 2, env(), Ctx, rand:seed_s(exsss, Seed))],
                  element(1, E) =:= 'case'],
    ?assert(Lists =/= []),
    [?assertMatch({list, _}, petri_gen:infer(E, env(), Ctx)) || E <- Lists],
    If = fun(X, Y) -> {'case', 1, {atom, 1, true}, [{clause, 1, [{atom, 1, true}], [], [X]},
                                                   {clause, 1, [{atom, 1, false}], [], [Y]}]}
         end,
    ?assertEqual({list, int}, petri_gen:infer(If({nil, 1}, {var, 1, 'L'}), env(), Ctx)),
    ?assertEqual({list, int}, petri_gen:infer(If({var, 1, 'L'}, {nil, 1}), env(), Ctx)),
    %% never in a guard: case is not a guard expression
    G = [E || Seed <- lists:seq(1, 100),
              {E, _} <- [petri_gen:gen(bool, 3, env(), Ctx#{guard => true},
                                       rand:seed_s(exsss, Seed))],
              not erl_lint:is_guard_test(E)],
    ?assertEqual([], G).

%% The list forms are PushGP's vector and string instructions written with
%% the list functions: replace, indexof (the length when absent),
%% occurrences and remove, each a fun whose parameter captures nothing.
list_forms_test() ->
    Eval = fun(P, Args, Env, Bind) ->
                   {value, V, _} = erl_eval:expr(petri_gen:node({form, P}, Args, Env), Bind),
                   V
           end,
    I = fun(N) -> {integer, 1, N} end,
    L = {var, 1, 'L'},
    B = #{'L' => [0, 3, 0, 4]},
    ?assertEqual([9, 3, 9, 4], Eval(replace, [I(0), I(9), L], [], B)),
    ?assertEqual(1, Eval(indexof, [I(3), L], [], B)),
    ?assertEqual(4, Eval(indexof, [I(7), L], [], B)),
    ?assertEqual(0, Eval(indexof, [I(7), {nil, 1}], [], B)),
    ?assertEqual(2, Eval(occurrences, [I(0), L], [], B)),
    ?assertEqual(0, Eval(occurrences, [I(7), L], [], B)),
    ?assertEqual([3, 4], Eval(remove, [I(0), L], [], B)),
    %% arguments that name V1 and V2, in a scope that binds V3: the
    %% parameter is none of them, so replace(V1, V2, L) reads the outer ones
    Env = [{{var, 1, 'V3'}, int}, {{var, 1, 'L'}, {list, int}}],
    N = petri_gen:node({form, replace}, [{var, 1, 'V1'}, {var, 1, 'V2'}, L], Env),
    {call, _, _, [{'fun', _, {clauses, [{clause, _, [{var, _, P}], [], _}]}}, _]} = N,
    ?assertNot(lists:member(P, ['V1', 'V2', 'V3', 'L']), P),
    ?assertEqual([5, 3, 5, 4],
                 Eval(replace, [{var, 1, 'V1'}, {var, 1, 'V2'}, L], Env,
                      B#{'V1' => 0, 'V2' => 5, 'V3' => 1})),
    %% generated ones type as they should and compute without raising
    Ctx = ctx([<<"replace">>, <<"indexof">>, <<"occurrences">>, <<"remove">>, <<"==">> | ops()]),
    Gen = fun(T) -> [E || Seed <- lists:seq(1, 300),
                         {E, _} <- [petri_gen:gen(T, 3, env(), Ctx, rand:seed_s(exsss, Seed))]]
          end,
    Forms = fun(Es) -> [E || E <- Es, uses_fun(E)] end,
    Lists = Forms(Gen({list, int})),
    Ints = Forms(Gen(int)),
    ?assert(length(Lists) >= 10, length(Lists)),
    ?assert(length(Ints) >= 10, length(Ints)),
    lists:foreach(fun({E, Is}) ->
                          {value, V, _} = erl_eval:expr(E, #{'L' => [3, -1, 0, 2]}),
                          ?assert(Is(V), E)
                  end, [{E, fun erlang:is_list/1} || E <- Lists]
                       ++ [{E, fun erlang:is_integer/1} || E <- Ints]),
    %% the elements a form compares with and puts in are terminals
    Elems = lists:append([form_elements(E) || E <- Lists ++ Ints]),
    ?assert(length(Elems) >= 10, length(Elems)),
    [?assert(terminal(X), X) || X <- Elems].

%% The element arguments of the replace forms and the == forms in a tree.
form_elements({call, _, _, [{'fun', _, {clauses, [{clause, _, [{var, _, P}], [], [Body]}]}}, L]}) ->
    Here = case Body of
               {'case', _, {op, _, '==', {var, _, P}, A}, [{clause, _, _, _, [B]}, _]} -> [A, B];
               {op, _, '==', {var, _, P}, A} -> [A];
               {op, _, 'not', {op, _, '==', {var, _, P}, A}} -> [A];
               _ -> []
           end,
    Here ++ form_elements(L);
form_elements(T) when is_tuple(T) -> form_elements(tuple_to_list(T));
form_elements(L) when is_list(L) -> lists:append([form_elements(X) || X <- L]);
form_elements(_) -> [].

%% A variable, a literal, or a one-argument call of a variable.
terminal({var, _, _}) -> true;
terminal({call, _, _, [{var, _, _}]}) -> true;
terminal(X) -> try erl_parse:normalise(X) of _ -> true catch _:_ -> false end.

uses_fun({'fun', _, _}) -> true;
uses_fun(T) when is_tuple(T) -> uses_fun(tuple_to_list(T));
uses_fun(L) when is_list(L) -> lists:any(fun uses_fun/1, L);
uses_fun(_) -> false.
