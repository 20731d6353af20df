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
     || Bad <- [<<"!">>, <<"sin">>, <<"math:sin/x">>, <<"a:b:c/1">>, <<"Foo/1">>, <<"f/99">>]].
