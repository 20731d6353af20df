%% petri_mutate_tests - determinism, every operator, error statuses.
-module(petri_mutate_tests).
-include_lib("eunit/include/eunit.hrl").

-define(P1, <<"-module(genome).\n-export([f/1]).\nf(X) -> X * X + 2 * X - 1.\n">>).
-define(P2, <<"-module(genome).\n-export([f/1]).\nf(Y) -> math:sin(Y) - abs(Y) * 3.\n">>).

spec() ->
    petri_spec:new(#{ops => [<<"+">>, <<"-">>, <<"*">>, <<"/">>, <<"abs/1">>, <<"math:sin/1">>,
                             <<"math:cos/1">>, <<"max/2">>],
                     vars => [<<"X">>], const_min => -5.0, const_max => 5.0,
                     cases => [{[X], X * X} || X <- lists:seq(-3, 3)]}).

parents(Op) ->
    case lists:keyfind(Op, 1, petri_mutate:ops()) of
        {_, 0} -> [];
        {_, 2} -> [?P1, ?P2];
        _ -> [?P1]
    end.

ops() -> [Op || {Op, _} <- petri_mutate:ops()].

%% Every op, many seeds: the child is ok, loads, is safe and deterministic.
ops_test_() ->
    [{Op, fun() -> op_check(Op) end} || Op <- ops()].

op_check(Op) ->
    lists:foreach(
      fun(Seed) ->
              {ok, Child, _} = R = petri_mutate:breed(spec(), Op, Seed, parents(Op)),
              ?assertEqual(R, petri_mutate:breed(spec(), Op, Seed, parents(Op))),
              ?assertMatch(<<"-module(genome).\n-export([f/1]).\n", _/binary>>, Child),
              ?assertMatch({ok, _}, petri_loader:prepare(spec(), Child), {Op, Seed, Child})
      end, lists:seq(1, 40)).

%% The parsed-parent cache changes nothing: every op and seed gives the same
%% child with it (cold and warm) as without it; a bad parent is not cached.
parent_cache_test() ->
    undefined = ets:whereis(petri_parents),
    Cases = [{Op, Seed} || Op <- ops(), Seed <- lists:seq(1, 15)],
    Without = [petri_mutate:breed(spec(), Op, Seed, parents(Op)) || {Op, Seed} <- Cases],
    ok = petri_mutate:cache_init(),
    try
        Cold = [petri_mutate:breed(spec(), Op, Seed, parents(Op)) || {Op, Seed} <- Cases],
        ?assert(ets:info(petri_parents, size) >= 2),
        Warm = [petri_mutate:breed(spec(), Op, Seed, parents(Op)) || {Op, Seed} <- Cases],
        ?assertEqual(Without, Cold),
        ?assertEqual(Without, Warm),
        N = ets:info(petri_parents, size),
        ?assertMatch({parse_error, <<>>, _}, petri_mutate:breed(spec(), <<"point">>, 1, [<<"-module(">>])),
        ?assertEqual(N, ets:info(petri_parents, size))
    after
        ets:delete(petri_parents)
    end.

%% Children are printed without erl_pp where breeding built them: the text
%% must parse back to the same tree erl_pp's text gives, for every op (unary
%% minus, negative and float literals, word operators, calls included).
render_round_trip_test() ->
    S = petri_spec:new(#{ops => [<<"+">>, <<"-">>, <<"*">>, <<"/">>, <<"div">>, <<"rem">>,
                                 <<"band">>, <<"abs/1">>, <<"math:sin/1">>, <<"max/2">>],
                         vars => [<<"X">>], const_min => -3.0, const_max => 3.0, const_int => false,
                         cases => [{[X], X} || X <- lists:seq(-3, 3)]}),
    Unary = <<"-module(genome).\n-export([f/1]).\nf(X) -> - (X * -2) + -X - -1.5 - (3 - (X - 2)).\n">>,
    Parents = fun(Op) -> [case P of ?P1 -> Unary; _ -> P end || P <- parents(Op)] end,
    lists:foreach(
      fun({Op, Seed}) ->
              {ok, Child, _} = petri_mutate:breed(S, Op, Seed, Parents(Op)),
              Mine = funs(Child),
              Theirs = funs(iolist_to_binary([<<"-module(genome).\n">> | [erl_pp:form(unfold(F)) || F <- Mine]])),
              ?assertEqual(Theirs, Mine, {Op, Seed, Child})
      end, [{Op, Seed} || Op <- ops(), Seed <- lists:seq(1, 60)]),
    %% a minus before a negative literal keeps its space (erl_pp wrote "--1.5",
    %% the list-subtraction operator, and the child did not parse)
    Neg = <<"-module(genome).\n-export([f/1]).\nf(X) -> X * - - 1.5.\n">>,
    {ok, C, _} = petri_mutate:breed(S, <<"swap">>, 1, [Neg]),
    ?assertMatch({ok, _}, petri_loader:prepare(S, C), C).

%% breed_forms/4 hands over the child's module as forms only when its text
%% parses to exactly them (the VM then skips the second parse); a parent
%% printed by erl_pp (here: a literal pattern, a match) gives none. The
%% numeric operators always print directly; the program operators may build
%% patterns, guards and funs, which go through erl_pp.
breed_forms_test() ->
    Numeric = [<<"point">>, <<"swap">>, <<"subtree">>, <<"crossover">>, <<"hoist">>,
               <<"shrink">>, <<"random">>],
    lists:foreach(
      fun({Op, Seed}) ->
              case petri_mutate:breed_forms(spec(), Op, Seed, parents(Op)) of
                  {ok, Src, {Forms, _Linted}, _} ->
                      {ok, Parsed} = petri_loader:parse(Src),
                      ?assertEqual(strip(Parsed), strip(Forms), {Op, Seed, Src});
                  {ok, Src, none, _} ->
                      ?assertNot(lists:member(Op, Numeric), {Op, Seed, Src})
              end,
              ?assertEqual({ok, Src, <<>>}, setelement(3, petri_mutate:breed(spec(), Op, Seed, parents(Op)), <<>>))
      end, [{Op, Seed} || Op <- ops(), Seed <- lists:seq(1, 30)]),
    Multi = <<"-module(genome).\n-export([f/1]).\nf(0) -> 1;\nf(X) -> Y = X * 2, Y + X.\n">>,
    ?assertMatch({ok, _, none, _}, petri_mutate:breed_forms(spec(), <<"point">>, 1, [Multi])).

strip(Forms) -> [fold(erl_parse:map_anno(fun(_) -> 0 end, F)) || F <- Forms].

%% The functions of a genome, annotations dropped, negative literals folded
%% (the trees breeding works on).
funs(Source) ->
    {ok, Forms} = petri_loader:parse(Source),
    [fold(erl_parse:map_anno(fun(_) -> 0 end, F)) || {function, _, _, _, _} = F <- Forms].

fold({op, A, '-', {integer, _, I}}) -> {integer, A, -I};
fold({op, A, '-', {float, _, F}}) -> {float, A, -F};
fold(T) when is_tuple(T) -> list_to_tuple([fold(E) || E <- tuple_to_list(T)]);
fold(L) when is_list(L) -> [fold(E) || E <- L];
fold(X) -> X.

%% erl_pp prints a minus before a negative literal as "--": give it the tree
%% the parser builds
unfold({integer, A, I}) when I < 0 -> {op, A, '-', {integer, A, -I}};
unfold({float, A, F}) when F < 0 -> {op, A, '-', {float, A, -F}};
unfold(T) when is_tuple(T) -> list_to_tuple([unfold(E) || E <- tuple_to_list(T)]);
unfold(L) when is_list(L) -> [unfold(E) || E <- L];
unfold(X) -> X.

seeds_differ_test() ->
    Children = [element(2, petri_mutate:breed(spec(), <<"random">>, S, [])) || S <- lists:seq(1, 30)],
    ?assert(length(lists:usort(Children)) > 10).

golden_test() ->
    %% a fixed (parents, op, seed) gives a fixed child
    {ok, C, <<>>} = petri_mutate:breed(spec(), <<"swap">>, 7, [?P1]),
    {ok, C, <<>>} = petri_mutate:breed(spec(), <<"swap">>, 7, [?P1]),
    ?assertNotEqual(nomatch, binary:match(C, <<"f(X) ->">>)),
    ?assertNotEqual(C, petri_mutate:breed(spec(), <<"swap">>, 8, [?P1])).

point_changes_one_terminal_test() ->
    {ok, C, _} = petri_mutate:breed(spec(), <<"point">>, 3, [?P1]),
    ?assertNotEqual(nomatch, binary:match(C, <<"*">>)),
    {ok, Forms} = petri_loader:parse(C),
    [{function, _, f, 1, [{clause, _, _, _, [Body]}]}] = [F || {function, _, _, _, _} = F <- Forms],
    ?assertMatch({op, _, '-', {op, _, '+', {op, _, '*', _, _}, {op, _, '*', _, _}}, _}, Body).

crossover_renames_vars_test() ->
    %% P2 uses Y: a donated subtree must use X in the child
    [begin
         {ok, C, _} = petri_mutate:breed(spec(), <<"crossover">>, S, [?P1, ?P2]),
         ?assertEqual(nomatch, binary:match(C, <<"Y">>))
     end || S <- lists:seq(1, 30)].

size_cap_test() ->
    Deep = iolist_to_binary(["-module(genome).\n-export([f/1]).\nf(X) -> ",
                             lists:duplicate(150, "X + "), "1.\n"]),
    {ok, C, Detail} = petri_mutate:breed(spec(), <<"subtree">>, 1, [Deep]),
    ?assertMatch({ok, _}, petri_loader:parse(C)),
    ?assertNotEqual(nomatch, binary:match(Detail, <<"too large">>)).

integer_constants_test() ->
    S = (spec())#{const_int => true, const_min => -2.0, const_max => 2.0},
    [begin
         {ok, C, _} = petri_mutate:breed(S, <<"random">>, Seed, []),
         {ok, Forms} = petri_loader:parse(C),
         Consts = consts(Forms),
         ?assert(lists:all(fun(V) -> is_integer(V) andalso V >= -2 andalso V =< 2 end, Consts))
     end || Seed <- lists:seq(1, 30)].

consts({integer, _, V}) -> [V];
consts({float, _, V}) -> [V];
consts({op, _, '-', {integer, _, V}}) -> [-V];
consts({op, _, '-', {float, _, V}}) -> [-V];
consts(T) when is_tuple(T) -> lists:append([consts(E) || E <- tuple_to_list(T)]);
consts(L) when is_list(L) -> lists:append([consts(E) || E <- L]);
consts(_) -> [].

errors_test() ->
    S = spec(),
    ?assertMatch({unsupported, <<>>, <<"unknown operator \"mangle\"">>},
                 petri_mutate:breed(S, <<"mangle">>, 1, [?P1])),
    ?assertMatch({unsupported, <<>>, <<"operator crossover needs 2 parent(s), got 1">>},
                 petri_mutate:breed(S, <<"crossover">>, 1, [?P1])),
    ?assertMatch({unsupported, <<>>, _}, petri_mutate:breed(S, <<"random">>, 1, [?P1])),
    ?assertMatch({parse_error, <<>>, <<"parent 1: ", _/binary>>},
                 petri_mutate:breed(S, <<"point">>, 1, [<<"-module(g).\nf(X) -> .\n">>])),
    ?assertMatch({parse_error, <<>>, <<"parent 2: ", _/binary>>},
                 petri_mutate:breed(S, <<"crossover">>, 1, [?P1, <<"garbage(">>])),
    ?assertMatch({compile_error, <<>>, <<"parent 1 does not define f/1">>},
                 petri_mutate:breed(S, <<"point">>, 1, [<<"-module(g).\ng(X) -> X.\n">>])),
    ?assertMatch({unsupported, <<>>, <<"spec: bad primitive", _/binary>>},
                 petri_mutate:breed(S#{ops => [<<"!">>]}, <<"point">>, 1, [?P1])),
    ?assertMatch({unsupported, <<>>, _}, petri_mutate:breed(S#{language => 1}, <<"point">>, 1, [?P1])),
    ?assertMatch({unsupported, <<>>, <<"vars must be Erlang variable names">>},
                 petri_mutate:breed(S#{vars => [<<"x">>]}, <<"random">>, 1, [])).

multi_clause_test() ->
    P = <<"-module(genome).\n-export([f/1]).\nf(0) -> 1;\nf(X) -> Y = X * 2, Y + X.\nhelper(Z) -> Z.\n">>,
    [begin
         {ok, C, _} = petri_mutate:breed(spec(), Op, Seed, [P]),
         ?assertMatch({ok, _}, petri_loader:prepare(spec(), C), {Op, Seed, C}),
         ?assertNotEqual(nomatch, binary:match(C, <<"helper(Z)">>))
     end || Op <- [<<"point">>, <<"swap">>, <<"subtree">>, <<"hoist">>, <<"shrink">>],
            Seed <- lists:seq(1, 15)].

%% ---- the breeder's identity ----

breeder_test() ->
    B = petri_mutate:breeder(),
    ?assertEqual(16, byte_size(B)),
    ?assertEqual(B, petri_mutate:breeder()),
    ?assertNotEqual(B, petri_mutate:breeder(tl(petri_mutate:breeder_modules()))),
    ?assertNotEqual(petri_mutate:breeder([lists]), petri_mutate:breeder([rand])).

%% Every petri module a breeding module calls, directly or not, is part of
%% the identity: a change to any of them changes it.
breeder_covers_what_breeding_calls_test() ->
    Imports = fun(M) ->
                      {ok, {_, [{imports, I}]}} = beam_lib:chunks(code:which(M), [imports]),
                      lists:usort([X || {X, _, _} <- I,
                                        lists:prefix("petri_", atom_to_list(X))])
              end,
    Reach = fun Reach([], Seen) -> Seen;
                Reach([M | T], Seen) ->
                    case lists:member(M, Seen) of
                        true -> Reach(T, Seen);
                        false -> Reach(Imports(M) ++ T, [M | Seen])
                    end
            end,
    Called = Reach([petri_mutate], []),
    ?assert(length(Called) > 5),
    ?assertEqual([], Called -- petri_mutate:breeder_modules()).
