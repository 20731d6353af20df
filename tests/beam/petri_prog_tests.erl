%% petri_prog_tests - the program operators on list, binary and map parents:
%% determinism, children that load, types kept, random genomes of each type.
-module(petri_prog_tests).
-include_lib("eunit/include/eunit.hrl").

-define(SLOT, petri_prog_test_slot).
-define(SEEDS, 50).

src(Body) -> iolist_to_binary(["-module(genome).\n-export([f/1]).\n", Body]).

spec(Ops, Cases) ->
    petri_spec:new(#{function => <<"f">>, arity => 1, vars => [<<"L">>], ops => Ops,
                     const_min => -3.0, const_max => 3.0, term_cases => {ok, Cases}}).

list_spec() ->
    spec([<<"types :: list(int) -> list(int)">>,
          <<"lists:reverse/1 :: list(T) -> list(T)">>, <<"lists:sort/1 :: list(T) -> list(T)">>,
          <<"length/1 :: list(T) -> int">>,
          <<"lists:filter/2 :: fun(T -> bool), list(T) -> list(T)">>,
          <<"lists:map/2 :: fun(T -> U), list(T) -> list(U)">>,
          <<"++">>, <<"+">>, <<"-">>, <<"*">>, <<">">>, <<"<">>, <<"==">>, <<"not">>,
          <<"andalso">>],
         [{[L], lists:reverse(L)} || L <- list_inputs()]).

list_inputs() -> [[], [1], [3, -1, 2], [5, 4, 3, 2, 1], [-2, 0, 7]].

list_parents() ->
    [src("f(L) -> lists:reverse(L ++ [1, 2]).\n"),
     src("f(X) -> lists:filter(fun(Y) -> Y > 0 end, X).\n"),
     src("f([]) -> [];\nf([H | T]) -> f(T) ++ [H].\n"),
     src("f(L) -> h1(L).\nh1(L) -> lists:sort(L).\n")].

map_spec() ->
    spec([<<"types :: map -> int">>, <<"maps:size/1 :: map -> int">>,
          <<"maps:get/3 :: any, map, T -> T">>, <<"maps:put/3 :: any, any, map -> map">>,
          <<"maps:keys/1 :: map -> list">>, <<"length/1 :: list(T) -> int">>,
          <<"+">>, <<"*">>],
         [{[M], maps:size(M)} || M <- [#{}, #{a => 1}, #{a => 1, b => 2}]]).

map_parents() ->
    [src("f(M) -> maps:size(M) + 1.\n"),
     src("f(M) -> maps:get(k, maps:put(k, 2, M), 0) * length(maps:keys(M)).\n")].

bin_spec() ->
    spec([<<"types :: binary -> int">>, <<"size/1 :: binary -> int">>,
          <<"+">>, <<"-">>, <<"*">>, <<"==">>],
         [{[B], byte_size(B)} || B <- [<<>>, <<"a">>, <<"abc">>]]).

bin_parents() ->
    [src("f(B) -> size(B) + size(<<\"xy\">>).\n"),
     src("f(<<>>) -> 0;\nf(B) -> size(B) * 2.\n")].

%% A tuple result of known element types, and the conditional "if".
tuple_spec() ->
    spec([<<"types :: list(int) -> tuple(list(int), int)">>,
          <<"lists:map/2 :: fun(T -> U), list(T) -> list(U)">>,
          <<"lists:filter/2 :: fun(T -> bool), list(T) -> list(T)">>,
          <<"length/1 :: list(T) -> int">>, <<"if">>, <<"+">>, <<"-">>, <<">">>, <<"==">>,
          <<"not">>],
         [{[L], {[max(X, 0) || X <- L], length(L)}} || L <- list_inputs()]).

tuple_parents() ->
    [src("f(L) -> {L, 0}.\n"),
     src("f(L) -> {lists:map(fun(X) -> case X > 0 of true -> X; false -> 0 end end, L),\n"
         "         length(L)}.\n"),
     src("f([]) -> {[], 0};\nf(L) -> {lists:filter(fun(Y) -> not (Y == 1) end, L), 1 + 1}.\n")].

%% The list forms (replace, indexof, occurrences, remove) beside the list
%% functions: last-index-of-zero's shape.
forms_spec() ->
    spec([<<"types :: list(int) -> int">>, <<"replace">>, <<"indexof">>, <<"occurrences">>,
          <<"remove">>, <<"lists:reverse/1 :: list(T) -> list(T)">>,
          <<"length/1 :: list(T) -> int">>, <<"+">>, <<"-">>, <<"==">>, <<"not">>],
         [{[L], length(L) - 1 - length(lists:takewhile(fun(X) -> X =/= 0 end,
                                                         lists:reverse(L)))}
          || L <- [[0], [1, 0], [0, 2, 0, 3], [5, 0, 6]]]).

forms_parents() ->
    [src("f(L) -> length(L) - 1.\n"),
     src("f(L) -> length(lists:takewhile(fun(V1) -> not (V1 == 0) end, lists:reverse(L))).\n"),
     src("f(L) -> length(lists:filter(fun(V2) -> V2 == 0 end, lists:map(fun(V1) -> "
         "case V1 == 1 of true -> 0; false -> V1 end end, L))).\n")].

%% Binaries pass the safety scan (the loader's rules may not admit them).
binaries_loadable() ->
    element(1, petri_loader:prepare(bin_spec(), src("f(_) -> size(<<\"a\">>).\n"))) =:= ok.

ops() -> petri_mutate:ops().

parents_for(N, Parents, Seed) ->
    K = length(Parents),
    [lists:nth((Seed + I) rem K + 1, Parents) || I <- lists:seq(0, N - 1)].

%% Every operator, 50 seeds, each kind of parent: the same (parents, op,
%% seed) gives the same bytes; the child is ok, not an internal error.
determinism_test_() ->
    [{Name, {timeout, 300, fun() -> determinism(Spec, Parents) end}}
      || {Name, Spec, Parents} <- [{"list", list_spec(), list_parents()},
                                   {"map", map_spec(), map_parents()},
                                   {"binary", bin_spec(), bin_parents()},
                                   {"tuple", tuple_spec(), tuple_parents()},
                                   {"forms", forms_spec(), forms_parents()}]].

determinism(Spec, Parents) ->
    lists:foreach(
      fun({Op, N}) ->
              lists:foreach(
                fun(Seed) ->
                        Ps = parents_for(N, Parents, Seed),
                        R = petri_mutate:breed(Spec, Op, Seed, Ps),
                        ?assertMatch({ok, _, _}, R, {Op, Seed}),
                        ?assertEqual(R, petri_mutate:breed(Spec, Op, Seed, Ps), {Op, Seed})
                end, lists:seq(1, ?SEEDS))
      end, ops()).

%% Every operator's children load (parse, safety scan, compile) as genomes.
load_test_() ->
    [{Name, {timeout, 300, fun() -> loads(Spec, Parents) end}}
      || {Name, Spec, Parents} <- [{"list", list_spec(), list_parents()},
                                   {"map", map_spec(), map_parents()},
                                   {"tuple", tuple_spec(), tuple_parents()},
                                   {"forms", forms_spec(), forms_parents()}]]
     ++ [{"binary", {timeout, 300, fun() -> loads_bin() end}}].

loads(Spec, Parents) ->
    lists:foreach(
      fun({Op, N}) ->
              lists:foreach(
                fun(Seed) ->
                        {ok, Child, _} = petri_mutate:breed(Spec, Op, Seed,
                                                            parents_for(N, Parents, Seed)),
                        ?assertEqual(ok, petri_loader:load(Spec, Child, ?SLOT), {Op, Seed, Child})
                end, lists:seq(1, ?SEEDS))
      end, ops()).

%% While the loader refuses binaries, binary children must still compile.
loads_bin() ->
    case binaries_loadable() of
        true -> loads(bin_spec(), bin_parents());
        false ->
            lists:foreach(
              fun({Op, N}) ->
                      lists:foreach(
                        fun(Seed) ->
                                {ok, Child, _} = petri_mutate:breed(bin_spec(), Op, Seed,
                                                                    parents_for(N, bin_parents(), Seed)),
                                {ok, Forms} = petri_loader:parse(Child),
                                ?assertMatch({ok, _, _}, compile:forms(Forms, [binary, return_errors]),
                                             {Op, Seed, Child})
                        end, lists:seq(1, ?SEEDS))
              end, ops())
    end.

%% The operators that keep a list -> list function total: every child
%% returns a list on every input (patterns, guards and clause deletion may
%% leave inputs unmatched, so they are not among them).
types_kept_test_() ->
    Safe = [<<"point">>, <<"swap">>, <<"call_swap">>, <<"subtree">>, <<"crossover">>,
            <<"hoist">>, <<"shrink">>, <<"literal">>, <<"helper">>, <<"inline">>, <<"fold">>,
            <<"recurse">>, <<"wrap">>, <<"random">>],
    Pair = fun({L, N}) -> is_list(L) andalso is_integer(N);
              (_) -> false
           end,
    [{Op, {timeout, 120, fun() -> returns(Op, list_spec(), list_parents(), fun erlang:is_list/1) end}}
     || Op <- Safe]
    ++ [{<<Op/binary, " (tuple)">>,
         {timeout, 120, fun() -> returns(Op, tuple_spec(), tuple_parents(), Pair) end}}
        || Op <- Safe].

returns(Op, Spec, Parents, Is) ->
    {_, N} = lists:keyfind(Op, 1, ops()),
    lists:foreach(
      fun(Seed) ->
              {ok, Child, _} = petri_mutate:breed(Spec, Op, Seed, parents_for(N, Parents, Seed)),
              ok = petri_loader:load(Spec, Child, ?SLOT),
              [?assert(Is(?SLOT:f(L)), {Op, Seed, L, Child}) || L <- list_inputs()]
      end, lists:seq(1, ?SEEDS)).

%% Random genomes of every argument and result type load and return a value
%% of the result type.
random_types_test_() ->
    Types = [{<<"list(int) -> int">>, [[1, 2]], fun erlang:is_integer/1},
             {<<"int -> float">>, [3], fun erlang:is_float/1},
             {<<"list(int) -> bool">>, [[1]], fun erlang:is_boolean/1},
             {<<"int -> list(int)">>, [2], fun erlang:is_list/1},
             {<<"map -> map">>, [#{a => 1}], fun erlang:is_map/1},
             {<<"int -> tuple">>, [1], fun erlang:is_tuple/1},
             {<<"list(int) -> tuple(list(int), int)">>, [[1, 2]],
              fun({L, N}) -> is_list(L) andalso is_integer(N); (_) -> false end},
             {<<"tuple(int, bool) -> int">>, [{3, true}], fun erlang:is_integer/1},
             {<<"binary -> binary">>, [<<"ab">>], fun erlang:is_binary/1},
             {<<"float -> float">>, [1.5], fun erlang:is_float/1}],
    [{binary_to_list(Sig), {timeout, 120, fun() -> random_type(Sig, In, Is) end}}
     || {Sig, In, Is} <- Types].

random_type(Sig, In, Is) ->
    Spec = spec([<<"types :: ", Sig/binary>>, <<"length/1 :: list(T) -> int">>,
                 <<"lists:reverse/1 :: list(T) -> list(T)">>, <<"maps:put/3 :: any, any, map -> map">>,
                 <<"+">>, <<"*">>, <<"<">>, <<"==">>, <<"size/1 :: binary -> int">>,
                 <<"float/1 :: int -> float">>],
                [{In, 0}]),
    lists:foreach(
      fun(Seed) ->
              {ok, Child, _} = petri_mutate:breed(Spec, <<"random">>, Seed, []),
              case binary:match(Child, <<"<<">>) =/= nomatch andalso not binaries_loadable() of
                  true ->
                      {ok, Forms} = petri_loader:parse(Child),
                      {ok, M, Bin} = compile:forms(Forms, [binary]),
                      {module, M} = code:load_binary(M, "genome", Bin),
                      ?assert(Is(apply(M, f, In)), {Sig, Seed, Child});
                  false ->
                      ok = petri_loader:load(Spec, Child, ?SLOT),
                      ?assert(Is(apply(?SLOT, f, In)), {Sig, Seed, Child})
              end
      end, lists:seq(1, ?SEEDS)).

%% The templates build what they say.
fold_template_test() ->
    P = src("f(L) -> L.\n"),
    Kids = [C || S <- lists:seq(1, 20),
                 {ok, C, <<>>} <- [petri_mutate:breed(list_spec(), <<"fold">>, S, [P])]],
    ?assert(length(Kids) >= 10),
    [?assertMatch({_, _}, binary:match(C, <<"lists:foldl(fun(">>), C) || C <- Kids].

%% With no list in scope, the fold builds one from the primitives
%% (lists:seq(1, N), ...); its fun uses the element in most children; every
%% child returns an integer.
fold_new_list_test() ->
    Spec = int_spec(),
    P = src("f(L) -> L.\n"),
    Kids = [C || S <- lists:seq(1, 40),
                 {ok, C, <<>>} <- [petri_mutate:breed(Spec, <<"fold">>, S, [P])]],
    ?assertEqual(40, length(Kids)),
    ?assert(length([C || C <- Kids, binary:match(C, <<"lists:seq(">>) =/= nomatch]) >= 10),
    UsesElem = [C || C <- Kids, {X, Body} <- fold_funs(C), lists:member(X, vars(Body))],
    ?assert(length(UsesElem) >= 20, Kids),
    lists:foreach(fun(C) ->
                          ok = petri_loader:load(Spec, C, ?SLOT),
                          ?assert(is_integer(catch_int(fun() -> ?SLOT:f(4) end)), C)
                  end, Kids).

%% An expression that reads hd(L) is lifted over L in some children: the
%% site hd(L) rem 2 (or hd(L)) of f(L) -> hd(L) rem 2 becomes a fold over L
%% of Acc Op (X rem 2) (or Acc Op X), starting at Op's identity for + and *;
%% with + over X rem 2 that is the sum of the remainders.
fold_lift_test() ->
    Spec = spec([<<"types :: list(int) -> int">>, <<"length/1 :: list(T) -> int">>,
                 <<"hd/1 :: list(T) -> T">>, <<"+">>, <<"*">>, <<"rem">>, <<"<">>],
                [{[[1, 2, 3]], 2}]),
    P = src("f(L) -> hd(L) rem 2.\n"),
    Kids = [C || S <- lists:seq(1, 80),
                 {ok, C, <<>>} <- [petri_mutate:breed(Spec, <<"fold">>, S, [P])]],
    ?assertEqual(80, length(Kids)),
    Lifts = [{C, Op, Init, B} || C <- Kids, {Op, Init, B} <- lifts(C)],
    ?assert(length([L || {_, _, _, 'rem'} = L <- Lifts]) >= 4, Lifts),
    Sum = [C || {C, '+', {integer, _, 0}, 'rem'} <- Lifts],
    ?assertNotEqual([], Sum, Lifts),
    lists:foreach(fun(C) ->
                          ok = petri_loader:load(Spec, C, ?SLOT),
                          ?assertEqual(1 + 0 + 1 - 1 + 1, ?SLOT:f([1, 2, 3, -7, 5]), C)
                  end, Sum).

%% An expression that reads an integer variable N is lifted over
%% lists:seq(1, N) where lists:seq/2 is a primitive: f(N) -> N * N becomes
%% the sum of the squares in some children; without lists:seq/2, never.
fold_range_lift_test() ->
    P = src("f(L) -> L * L.\n"),
    Kids = fun(Spec) -> [C || S <- lists:seq(1, 80),
                              {ok, C, <<>>} <- [petri_mutate:breed(Spec, <<"fold">>, S, [P])]]
           end,
    Squares = [C || C <- Kids(int_spec()),
                    binary:match(C, <<"lists:seq(1, L)">>) =/= nomatch,
                    {X, [{op, _, '+', {var, _, _}, {op, _, '*', {var, _, X}, {var, _, X}}}]}
                        <- fold_funs(C)],
    ?assertNotEqual([], Squares),
    lists:foreach(fun(C) ->
                          ok = petri_loader:load(int_spec(), C, ?SLOT),
                          ?assertEqual(1 + 4 + 9 + 16, ?SLOT:f(4), C)
                  end, Squares),
    NoSeq = spec([<<"types :: int -> int">>, <<"lists:reverse/1 :: list(T) -> list(T)">>,
                  <<"+">>, <<"*">>, <<"-">>], [{[2], 4}]),
    ?assertEqual([], [C || C <- Kids(NoSeq), binary:match(C, <<"lists:seq(">>) =/= nomatch]).

%% The lifted folds of a child: {Op, Init, elem | 'rem'} for each
%% lists:foldl(fun(X, Acc) -> Acc Op X [rem 2] end, Init, L) ('rem' for X rem 2).
lifts(C) ->
    {ok, Forms} = petri_loader:parse(C),
    [{Op, Init, case B of {var, _, X} -> elem; _ -> 'rem' end}
     || {call, _, {remote, _, {atom, _, lists}, {atom, _, foldl}},
         [{'fun', _, {clauses, [{clause, _, [{var, _, X}, {var, _, Acc}], [],
                                 [{op, _, Op, {var, _, Acc}, B}]}]}}, Init, {var, _, 'L'}]}
            <- tree_nodes(Forms),
        B =:= {var, element(2, B), X} orelse
            element(1, B) =:= op andalso tuple_size(B) =:= 5 andalso element(3, B) =:= 'rem'
            andalso element(4, B) =:= {var, element(2, element(4, B)), X}
            andalso element(5, B) =:= {integer, element(2, element(5, B)), 2}].

int_spec() ->
    spec([<<"types :: int -> int">>, <<"lists:seq/2 :: int, int -> list(int)">>,
          <<"lists:reverse/1 :: list(T) -> list(T)">>, <<"+">>, <<"*">>, <<"-">>,
          <<"<">>, <<">">>, <<"==">>],
         [{[N], N * N} || N <- [1, 2, 3]]).

catch_int(F) ->
    try F() catch error:_ -> 0 end.

%% The fold funs of a child: {element variable, body}.
fold_funs(C) ->
    {ok, Forms} = petri_loader:parse(C),
    [{X, Body} || {call, _, {remote, _, {atom, _, lists}, {atom, _, foldl}},
                   [{'fun', _, {clauses, [{clause, _, [{var, _, X}, _], [], Body}]}}, _, _]}
                      <- tree_nodes(Forms)].

tree_nodes(T) when is_tuple(T) -> [T | tree_nodes(tuple_to_list(T))];
tree_nodes(L) when is_list(L) -> lists:append([tree_nodes(E) || E <- L]);
tree_nodes(_) -> [].

vars(T) -> [V || {var, _, V} <- tree_nodes(T)].

%% A clause added on a number is told apart by a guard, never by a literal
%% pattern (a clause for one input); on a list, by [] or [H|T].
clause_add_guard_test() ->
    P = src("f(L) -> L.\n"),
    Kids = [C || S <- lists:seq(1, 30),
                 {ok, C, <<>>} <- [petri_mutate:breed(int_spec(), <<"clause_add">>, S, [P])]],
    ?assertEqual(30, length(Kids)),
    lists:foreach(
      fun(C) ->
              {ok, Forms} = petri_loader:parse(C),
              [{function, _, f, 1, [{clause, _, [Pat], [[_Guard]], _}, {clause, _, [{var, _, 'L'}], [], _}]}] =
                  [F || {function, _, _, _, _} = F <- Forms],
              ?assertMatch({var, _, 'L'}, Pat, C)
      end, Kids),
    Lists = [C || S <- lists:seq(1, 30),
                  {ok, C, <<>>} <- [petri_mutate:breed(list_spec(), <<"clause_add">>, S,
                                                       [src("f(L) -> L.\n")])]],
    ?assert(lists:all(fun(C) -> binary:match(C, <<"when">>) =:= nomatch end, Lists)),
    ?assert(lists:any(fun(C) -> binary:match(C, <<"[] = L">>) =/= nomatch end, Lists)).

%% A fun over a list's elements gets the element type: on list(list(int)) ->
%% list(int), lists:map(fun(S) -> ... end, L) is among the children, and
%% no child returns something else than a list of integers (a [] site is
%% list(int) there, not a list of anything).
elem_type_test() ->
    Spec = spec([<<"types :: list(list(int)) -> list(int)">>, <<"length/1 :: list(T) -> int">>,
                 <<"lists:map/2 :: fun(A -> B), list(A) -> list(B)">>,
                 <<"lists:reverse/1 :: list(T) -> list(T)">>, <<"+">>],
                [{[[[1], []]], [1, 0]}]),
    P = src("f(L) -> [].\n"),
    Kids = [C || S <- lists:seq(1, 200),
                 {ok, C, <<>>} <- [petri_mutate:breed(Spec, <<"subtree">>, S, [P])]],
    ?assert(lists:any(fun(C) -> re:run(C, <<"end,\\s+L\\)">>) =/= nomatch end, Kids)),
    lists:foreach(fun(C) ->
                          ok = petri_loader:load(Spec, C, ?SLOT),
                          R = try ?SLOT:f([[1, 2], [3]]) catch error:_ -> [] end,
                          ?assert(is_list(R) andalso lists:all(fun erlang:is_integer/1, R), C)
                  end, Kids).

%% wrap keeps the expression it wraps: the parent's fold is still whole in
%% every child, now an argument of a new call (or with a part of it one),
%% and the children take the shapes that need it: a filter around the list
%% (length(lists:filter(F, L))), a fun that uses its parameter, and
%% arithmetic around a term of the fold's body (A + X * X).
wrap_test() ->
    P = src("f(L) -> length(L) + lists:foldl(fun(X, A) -> A + X end, 0, L).\n"),
    Kids = [C || S <- lists:seq(1, 60),
                 {ok, C, <<>>} <- [petri_mutate:breed(list_int_spec(), <<"wrap">>, S, [P])]],
    ?assertEqual(60, length(Kids)),
    Size = fun(C) -> {ok, Forms} = petri_loader:parse(C), length(tree_nodes(Forms)) end,
    lists:foreach(fun(C) ->
                          ?assert(Size(C) > Size(P), C),
                          ok = petri_loader:load(list_int_spec(), C, ?SLOT),
                          ?assert(is_integer(catch_int(fun() -> ?SLOT:f([3, -1, 2]) end)), C)
                  end, Kids),
    Filtered = [C || C <- Kids, re:run(C, <<"length\\(lists:filter\\(fun\\((V\\d+)\\) ->[^;]*\\1[^;]*end,\\s*L\\)\\)">>) =/= nomatch],
    ?assert(Filtered =/= [], Kids),
    Body = [C || C <- Kids, {X, [{op, _, _, _, R}]} <- fold_funs(C), lists:member(X, vars(R)),
                 element(1, R) =:= op],
    ?assert(Body =/= [], Kids).

list_int_spec() ->
    spec([<<"types :: list(int) -> int">>, <<"length/1 :: list(T) -> int">>,
          <<"lists:filter/2 :: fun(T -> bool), list(T) -> list(T)">>,
          <<"lists:foldl/3 :: fun(T, A -> A), A, list(T) -> A">>,
          <<"+">>, <<"*">>, <<"rem">>, <<"==">>, <<"not">>],
         [{[L], length(L)} || L <- list_inputs()]).

recurse_template_test() ->
    P = src("f(L) -> L.\n"),
    {ok, C, <<>>} = petri_mutate:breed(list_spec(), <<"recurse">>, 1, [P]),
    ?assertMatch({_, _}, binary:match(C, <<"f([]) ->">>), C),
    ?assertMatch({_, _}, binary:match(C, <<"f([H1 | T1]) ->">>), C).

helper_inline_round_trip_test() ->
    P = src("f(L) -> lists:reverse(lists:sort(L)).\n"),
    {ok, C, <<>>} = petri_mutate:breed(list_spec(), <<"helper">>, 3, [P]),
    ?assertMatch({_, _}, binary:match(C, <<"h1(">>), C),
    {ok, C2, <<>>} = petri_mutate:breed(list_spec(), <<"inline">>, 1, [C]),
    ?assertEqual(nomatch, binary:match(C2, <<"h1(">>), C2).

%% A failed operator falls back to a point mutation, then a copy.
fallback_test() ->
    P = src("f(L) -> L.\n"),
    {ok, _, D} = petri_mutate:breed(list_spec(), <<"clause_del">>, 1, [P]),
    ?assertMatch({_, _}, binary:match(D, <<"one clause only">>)),
    {ok, _, D2} = petri_mutate:breed(list_spec(), <<"inline">>, 1, [P]),
    ?assertMatch({_, _}, binary:match(D2, <<"no call to inline">>)).

%% A typed spec naming a function genomes may not call is refused.
refused_primitive_test() ->
    S = spec([<<"types :: list -> list">>, <<"os:cmd/1 :: list -> list">>], []),
    ?assertMatch({unsupported, <<>>, <<"spec: primitive", _/binary>>},
                 petri_mutate:breed(S, <<"random">>, 1, [])),
    S2 = spec([<<"types :: list, int -> list">>], []),
    ?assertMatch({unsupported, <<>>, _}, petri_mutate:breed(S2, <<"random">>, 1, [])),
    S3 = spec([<<"lists:reverse/1 :: list(T -> list">>], []),
    ?assertMatch({unsupported, <<>>, <<"spec: bad signature", _/binary>>},
                 petri_mutate:breed(S3, <<"random">>, 1, [])).

%% The program operators work on numeric specs too (every type any), and
%% the numeric operators there are untouched (petri_mutate_tests).
numeric_spec_test() ->
    S = petri_spec:new(#{ops => [<<"+">>, <<"-">>, <<"*">>, <<"abs/1">>],
                         cases => [{[X], X * X} || X <- lists:seq(-3, 3)]}),
    P = src("f(X) -> X * X + 2.\n"),
    lists:foreach(fun({Op, N}) ->
                          {ok, C, _} = petri_mutate:breed(S, Op, 7, lists:duplicate(N, P)),
                          ?assertEqual(ok, petri_loader:load(S, C, ?SLOT), {Op, C})
                  end, petri_prog:ops()).

%% Operators that grow a module, applied 300 times down one lineage, stay
%% within the caps: 6 functions, 8 clauses each, 400 nodes.
caps_test_() ->
    {timeout, 120, fun caps/0}.

caps() ->
    Grow = [<<"clause_add">>, <<"helper">>, <<"subtree">>, <<"fold">>, <<"recurse">>,
            <<"guard">>, <<"pattern">>],
    Final = lists:foldl(
              fun(Seed, P) ->
                      Op = lists:nth(Seed rem length(Grow) + 1, Grow),
                      {ok, C, _} = petri_mutate:breed(list_spec(), Op, Seed, [P]),
                      {ok, Forms} = petri_loader:parse(C),
                      Funs = [F || {function, _, _, _, _} = F <- Forms],
                      ?assert(length(Funs) =< 6, C),
                      [?assert(length(Cs) =< 8, C) || {function, _, _, _, Cs} <- Funs],
                      Cs = [Cl || {function, _, _, _, FCs} <- Funs, Cl <- FCs],
                      ?assert(tuples(fold_neg(erl_parse:map_anno(fun(_) -> 1 end, Cs))) =< 400, C),
                      C
              end, src("f(L) -> L.\n"), lists:seq(1, 300)),
    ?assertEqual(ok, petri_loader:load(list_spec(), Final, ?SLOT)).

tuples(T) when is_tuple(T) -> 1 + tuples(tuple_to_list(T));
tuples(L) when is_list(L) -> lists:sum([tuples(E) || E <- L]);
tuples(_) -> 0.

%% Negative literals as breeding counts them (one node).
fold_neg({op, _, '-', {integer, A, I}}) -> {integer, A, -I};
fold_neg({op, _, '-', {float, A, F}}) -> {float, A, -F};
fold_neg(T) when is_tuple(T) -> list_to_tuple([fold_neg(E) || E <- tuple_to_list(T)]);
fold_neg(L) when is_list(L) -> [fold_neg(E) || E <- L];
fold_neg(X) -> X.

%% A live genome (entry handle/2): its children keep init/1 and code_change/2,
%% which nothing in the module calls, and export them; any other entry
%% function keeps only what it reaches.
live_callbacks_kept_test() ->
    Src = <<"-module(m).\n-export([init/1, handle/2, code_change/2]).\n"
            "init(_) -> 0.\nhandle(R, S) -> {R + 1, S + 2}.\n"
            "code_change(_, S) -> S * 3.\nunused(X) -> X.\n">>,
    Spec = petri_spec:new(#{function => <<"handle">>, arity => 2,
                            vars => [<<"R">>, <<"S">>], ops => [<<"+">>, <<"*">>]}),
    Kids = [C || Seed <- lists:seq(1, 20),
                 {ok, C, _} <- [catch petri_mutate:breed(Spec, <<"literal">>, Seed, [Src])]],
    ?assert(length(Kids) >= 10),
    [begin
         ?assertNotEqual(nomatch, binary:match(C, <<"-export([handle/2, init/1, code_change/2]).">>)),
         ?assertEqual(nomatch, binary:match(C, <<"unused">>))
     end || C <- Kids],
    Plain = petri_spec:new(#{function => <<"f">>, arity => 1, vars => [<<"X">>],
                             ops => [<<"+">>]}),
    {ok, C2, _} = petri_mutate:breed(Plain, <<"literal">>, 3,
                                        [<<"-module(m).\n-export([f/1]).\n"
                                           "init(_) -> 0.\nf(X) -> X + 1.\n">>]),
    ?assertNotEqual(nomatch, binary:match(C2, <<"-export([f/1]).">>)),
    ?assertEqual(nomatch, binary:match(C2, <<"init">>)).
