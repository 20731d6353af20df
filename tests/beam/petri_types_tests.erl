%% petri_types_tests - signatures parse (and bad ones do not), unification
%% with type variables and any, pattern variable types.
-module(petri_types_tests).
-include_lib("eunit/include/eunit.hrl").

parse_test() ->
    ?assertEqual({ok, {[{list, {tv, <<"T">>}}], {list, {tv, <<"T">>}}}},
                 petri_types:parse_sig(<<"list(T) -> list(T)">>)),
    ?assertEqual({ok, {[{fn, [{tv, <<"T">>}], bool}, {list, {tv, <<"T">>}}], {list, {tv, <<"T">>}}}},
                 petri_types:parse_sig(<<" fun(T -> bool), list(T) -> list(T) ">>)),
    ?assertEqual({ok, {[binary, int, int], binary}},
                 petri_types:parse_sig(<<"binary, int, int -> binary">>)),
    ?assertEqual({ok, {[], map}}, petri_types:parse_sig(<<"-> map">>)),
    ?assertEqual({ok, {[{list, any}], int}}, petri_types:parse_sig(<<"list -> int">>)),
    ?assertEqual({ok, {[{fn, [], int}], int}}, petri_types:parse_sig(<<"fun(-> int) -> int">>)),
    ?assertEqual({ok, {list, {list, float}}}, petri_types:parse_type(<<"list(list(float))">>)),
    [?assertEqual(error, petri_types:parse_sig(B), B)
     || B <- [<<>>, <<"int">>, <<"int ->">>, <<"list(int -> int">>, <<"integer -> int">>,
              <<"int -> int -> int">>, <<"int, -> int">>, <<"fun(int) -> int">>,
              <<"int -> int)">>, <<"in$t -> int">>]].

unify_test() ->
    T = {tv, <<"T">>},
    {ok, S} = petri_types:unify({list, T}, {list, int}, []),
    ?assertEqual(int, petri_types:apply(T, S)),
    ?assertEqual(error, petri_types:unify({list, int}, {list, binary}, [])),
    ?assertEqual(error, petri_types:unify(int, float, [])),
    ?assertEqual(error, petri_types:unify(T, {list, T}, [])),   % occurs check
    ?assertMatch({ok, _}, petri_types:unify(any, {list, int}, [])),
    ?assertMatch({ok, _}, petri_types:unify({list, any}, {list, int}, [])),
    {ok, S2} = petri_types:unify({fn, [T], bool}, {fn, [int], bool}, []),
    ?assertEqual({list, int}, petri_types:apply({list, T}, S2)),
    ?assertEqual(error, petri_types:unify({fn, [T], bool}, {fn, [int, int], bool}, [])),
    ?assertEqual({list, any}, petri_types:ground({list, T})).

fresh_sig_test() ->
    Sig = {[{tv, <<"T">>}], {tv, <<"T">>}},
    {[A], R} = petri_types:fresh_sig(Sig, <<"x">>),
    ?assertEqual(A, R),
    ?assertNotEqual({tv, <<"T">>}, A).

pattern_env_test() ->
    P = {match, 1, {cons, 1, {var, 1, 'H'}, {var, 1, 'T'}}, {var, 1, 'L'}},
    ?assertEqual([{'H', int}, {'T', {list, int}}, {'L', {list, int}}],
                 petri_types:pattern_env(P, {list, int})),
    ?assertEqual([], petri_types:pattern_env({var, 1, '_'}, int)),
    ?assertEqual([], petri_types:pattern_env({nil, 1}, {list, int})).

format_test() ->
    ?assertEqual("fun(list(T), int -> bool)",
                 unicode:characters_to_list(petri_types:format({fn, [{list, {tv, <<"T">>}}, int], bool}))).

%% tuple(A, B) is a tuple of those element types; plain tuple is any tuple.
tuple_type_test() ->
    T = {tv, <<"T">>},
    ?assertEqual({ok, {[{list, int}], {tuple, [{list, int}, int]}}},
                 petri_types:parse_sig(<<"list(int) -> tuple(list(int), int)">>)),
    ?assertEqual({ok, {tuple, [{tuple, [bool]}, {list, T}]}},
                 petri_types:parse_type(<<"tuple(tuple(bool), list(T))">>)),
    ?assertEqual(error, petri_types:parse_type(<<"tuple()">>)),
    ?assertEqual(error, petri_types:parse_type(<<"tuple(int">>)),
    {ok, S} = petri_types:unify({tuple, [T, int]}, {tuple, [{list, bool}, int]}, []),
    ?assertEqual({tuple, [{list, bool}, int]}, petri_types:apply({tuple, [T, int]}, S)),
    ?assertEqual(error, petri_types:unify({tuple, [int]}, {tuple, [int, int]}, [])),
    ?assertEqual(error, petri_types:unify({tuple, [int, float]}, {tuple, [int, int]}, [])),
    ?assertEqual(error, petri_types:unify({tuple, [int]}, {list, int}, [])),
    ?assertMatch({ok, _}, petri_types:unify(tuple, {tuple, [int, int]}, [])),
    ?assertMatch({ok, _}, petri_types:unify({tuple, [int]}, tuple, [])),
    ?assertEqual(error, petri_types:unify(T, {tuple, [T]}, [])),   % occurs check
    ?assertEqual({tuple, [any, int]}, petri_types:ground({tuple, [T, int]})),
    ?assertEqual([<<"T">>], petri_types:tvars({tuple, [int, {list, T}]})),
    {[A], R} = petri_types:fresh_sig({[{tuple, [T]}], T}, <<"x">>),
    ?assertEqual({tuple, [R]}, A),
    ?assertEqual([{'S', {list, int}}, {'N', int}],
                 petri_types:pattern_env({tuple, 1, [{var, 1, 'S'}, {var, 1, 'N'}]},
                                         {tuple, [{list, int}, int]})),
    ?assertEqual([{'S', any}], petri_types:pattern_env({tuple, 1, [{var, 1, 'S'}]}, tuple)),
    ?assertEqual("tuple(list(int), int)",
                 unicode:characters_to_list(petri_types:format({tuple, [{list, int}, int]}))).
