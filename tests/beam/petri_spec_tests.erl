%% petri_spec_tests - spec validation, defaults and the primitive set.
-module(petri_spec_tests).
-include_lib("eunit/include/eunit.hrl").

validate_test() ->
    ?assertEqual(ok, petri_spec:validate(petri_spec:new(#{cases => [{[1], 2}]}))),
    ?assertMatch({error, <<"spec: case 2", _/binary>>},
                 petri_spec:validate(petri_spec:new(#{cases => [{[1], 2}, {[1, 2], 3}]}))),
    ?assertMatch({error, <<"spec: unknown language", _/binary>>},
                 petri_spec:validate(petri_spec:new(#{language => 7}))),
    ?assertMatch({error, _}, petri_spec:validate(petri_spec:new(#{function => <<"Bad">>}))),
    ?assertMatch({error, _}, petri_spec:validate(petri_spec:new(#{function => <<"a b">>}))),
    ?assertMatch({error, _}, petri_spec:validate(petri_spec:new(#{error => 3}))),
    ?assertMatch({error, _}, petri_spec:validate(petri_spec:new(#{vars => [<<"X">>, <<"Y">>]}))).

defaults_test() ->
    S = petri_spec:new(#{}),
    ?assertEqual(1000, petri_spec:timeout_ms(S)),
    ?assertEqual(1000000, petri_spec:heap_words(S)),
    ?assertEqual(1000, petri_spec:heap_words(S#{heap_words => 5})),
    ?assertEqual(0, petri_spec:reductions(S)),
    ?assertEqual(abs, petri_spec:error_kind(S)),
    ?assertEqual(square, petri_spec:error_kind(S#{error => 1})),
    ?assertEqual(f, petri_spec:function(S)),
    ?assertEqual(erlang, petri_spec:language(S)),
    ?assertEqual(elixir, petri_spec:language(S#{language => 1})).

primitives_test() ->
    S = petri_spec:new(#{ops => [<<"+">>, <<"div">>, <<"abs/1">>, <<"math:sin/1">>, <<"max/2">>]}),
    ?assertEqual({ok, [{binop, '+'}, {binop, 'div'}, {fn, none, abs, 1}, {fn, math, sin, 1},
                       {fn, none, max, 2}]}, petri_spec:primitives(S)),
    [?assertMatch({error, _}, petri_spec:primitives(S#{ops => [Bad]}))
     || Bad <- [<<"!">>, <<"sin">>, <<"math:sin/x">>, <<"a:b:c/1">>, <<"Foo/1">>, <<"f/99">>,
                <<"Elixir.Integer:Mod/2">>, <<"Elixir.integer:mod/2">>, <<"Elixir.:mod/2">>,
                <<"Elixir.Integer.:mod/2">>, <<"Elixir:mod/2">>, <<"Integer:mod/2">>,
                <<"'Elixir.Integer':mod/2">>]],
    %% an Elixir module: Elixir's floored modulo
    ?assertEqual({ok, [{fn, 'Elixir.Integer', mod, 2}, {fn, 'Elixir.String.Chars', to_string, 1}]},
                 petri_spec:primitives(S#{ops => [<<"Elixir.Integer:mod/2">>,
                                                  <<"Elixir.String.Chars:to_string/1">>]})).

%% Typed primitive sets: signatures in the op strings, the entry's types,
%% defaults for operators, and clear errors.
signatures_test() ->
    S = fun(Ops) -> petri_spec:signatures(petri_spec:new(#{ops => Ops})) end,
    ?assertEqual({ok, none}, S([<<"+">>, <<"abs/1">>])),
    {ok, {Entry, Prims}} = S([<<"types :: list(int) -> int">>, <<"length/1 :: list(T) -> int">>,
                              <<"+">>, <<"<">>, <<"++">>, <<"not">>, <<"lists:sum/1">>]),
    ?assertEqual({[{list, int}], int}, Entry),
    ?assertEqual({[{list, {tv, <<"T">>}}], int}, proplists:get_value({fn, none, length, 1}, Prims)),
    ?assertEqual({[int, int], int}, proplists:get_value({binop, '+'}, Prims)),
    ?assertEqual({[{tv, <<"T">>}, {tv, <<"T">>}], bool}, proplists:get_value({binop, '<'}, Prims)),
    ?assertEqual({[bool], bool}, proplists:get_value({unop, 'not'}, Prims)),
    ?assertEqual({[any], any}, proplists:get_value({fn, lists, sum, 1}, Prims)),
    {ok, {{[any], any}, _}} = S([<<"length/1 :: list -> int">>]),
    Err = fun(Ops, Text) ->
                  {error, D} = S(Ops),
                  ?assertMatch({_, _}, binary:match(D, Text), D)
          end,
    Err([<<"os:cmd/1 :: list -> list">>], <<"not a function genomes may call">>),
    Err([<<"Elixir.System:cmd/2 :: list, list -> list">>], <<"not a function genomes may call">>),
    {ok, {_, [{{fn, 'Elixir.Integer', mod, 2}, {[int, int], int}}]}} =
        S([<<"Elixir.Integer:mod/2 :: int, int -> int">>]),
    Err([<<"length/1 :: list, int -> int">>], <<"wrong arity">>),
    Err([<<"length/1 :: list(int -> int">>], <<"bad signature">>),
    Err([<<"types :: int, int -> int">>], <<"argument type">>),
    Err([<<"types :: int -> int">>, <<"types :: int -> int">>], <<"once">>),
    Err([<<"types :: int -> int">>, <<"frobnicate">>], <<"not an operator">>),
    Err([<<"types">>, <<"x :: int -> int">>], <<"types">>),
    %% the conditional: bool, T, T -> T unless given; three arguments always;
    %% a bare "if" in a numeric (untyped) set is not a primitive there
    {ok, {_, [{{form, 'if'}, {[bool, {tv, <<"T">>}, {tv, <<"T">>}], {tv, <<"T">>}}},
              {{form, 'if'}, {[bool, int, int], int}}]}} =
        S([<<"types :: int -> int">>, <<"if">>, <<"if :: bool, int, int -> int">>]),
    Err([<<"if :: bool, int -> int">>], <<"wrong arity">>),
    %% the list forms: PushGP's replace, indexof, occurrencesof and remove
    T = {tv, <<"T">>},
    {ok, {_, [{{form, replace}, {[T, T, {list, T}], {list, T}}},
              {{form, indexof}, {[T, {list, T}], int}},
              {{form, occurrences}, {[T, {list, T}], int}},
              {{form, remove}, {[T, {list, T}], {list, T}}},
              {{form, indexof}, {[int, {list, int}], int}}]}} =
        S([<<"types :: int -> int">>, <<"replace">>, <<"indexof">>, <<"occurrences">>,
           <<"remove">>, <<"indexof :: int, list(int) -> int">>]),
    Err([<<"replace :: int, list(int) -> list(int)">>], <<"wrong arity">>),
    Err([<<"remove :: list(int) -> list(int)">>], <<"wrong arity">>),
    ?assertMatch({error, _}, petri_spec:primitives(petri_spec:new(#{ops => [<<"replace">>]}))),
    ?assertMatch({error, _}, petri_spec:primitives(petri_spec:new(#{ops => [<<"if">>]}))),
    {ok, {{[{list, int}], {tuple, [{list, int}, int]}}, []}} =
        S([<<"types :: list(int) -> tuple(list(int), int)">>]),
    {ok, {_, [{{lit, _}, {[], {tuple, [int, {list, int}]}}}]}} =
        S([<<"types :: int -> int">>, <<"{0, \"a\"}">>]).

%% Literal op strings in a typed set: each is a 0-ary primitive of its type.
literal_primitives_test() ->
    {ok, {_, Prims}} = petri_spec:signatures(
                         petri_spec:new(#{ops => [<<"types :: list -> list">>, <<"[]">>,
                                                  <<"<<\"ab\">>">>, <<"-1">>, <<"[0, 1]">>,
                                                  <<"#{}">>, <<"true">>, <<"2.5">>,
                                                  <<"'ok'">>]})),
    ?assertEqual([{list, any}, binary, int, {list, int}, map, bool, float, atom],
                 [T || {{lit, _}, {[], T}} <- Prims]),
    {error, D} = petri_spec:signatures(petri_spec:new(#{ops => [<<"types :: int -> int">>,
                                                                <<"[X]">>]})),
    ?assertMatch({_, _}, binary:match(D, <<"[X]">>)).
