%% petri_loader_tests - parse caps, attribute filter, export check, compile and load.
-module(petri_loader_tests).
-include_lib("eunit/include/eunit.hrl").

-define(SLOT, petri_loader_test_slot).

spec() -> petri_spec:new(#{}).

src(Body) -> iolist_to_binary(["-module(genome).\n-export([f/1]).\n", Body]).

load_ok_test() ->
    ?assertEqual(ok, petri_loader:load(spec(), src("f(X) -> X * 3.\n"), ?SLOT)),
    ?assertEqual(12, ?SLOT:f(4)),
    %% hot replace after a purge
    _ = code:purge(?SLOT),
    ?assertEqual(ok, petri_loader:load(spec(), src("f(X) -> X * 4.\n"), ?SLOT)),
    ?assertEqual(16, ?SLOT:f(4)),
    _ = code:purge(?SLOT),
    true = code:delete(?SLOT),
    _ = code:purge(?SLOT).

soft_purge_test() ->
    %% code:load_binary soft-purges unused old code itself; the slot allocator
    %% still prefers slots without old code so no load waits on a purge.
    M = petri_loader_test_slot2,
    [?assertEqual(ok, petri_loader:load(spec(), src(io_lib:format("f(_) -> ~b.~n", [I])), M))
     || I <- [1, 2, 3]],
    ?assertEqual(3, M:f(0)),
    _ = code:purge(M), true = code:delete(M), _ = code:purge(M).

size_cap_test() ->
    Big = binary:copy(<<"%">>, 10 * 1024 * 1024),
    ?assertEqual({error, parse_error, <<"source is 10485760 bytes, limit 65536">>},
                 petri_loader:parse(Big)).

huge_literal_test() ->
    Lit = ["[", lists:join(",", lists:duplicate(40000, "1")), "]"],
    ?assertMatch({error, parse_error, <<"source is ", _/binary>>},
                 petri_loader:load(spec(), src(["f(_) -> length(", Lit, ").\n"]), ?SLOT)).

token_cap_test() ->
    Body = ["f(X) -> X", lists:duplicate(10001, " +1"), ".\n"],
    ?assertMatch({error, parse_error, <<"source has ", _/binary>>}, petri_loader:parse(src(Body))).

depth_cap_test() ->
    Body = ["f(X) -> ", lists:duplicate(300, "("), "X", lists:duplicate(300, ")+1"), ".\n"],
    ?assertMatch({error, parse_error, <<"line 3: tree depth exceeds 200">>}, petri_loader:parse(src(Body))),
    %% a long literal list is wide, not deep
    Wide = ["f(_) -> [", lists:join(",", lists:duplicate(500, "1")), "].\n"],
    ?assertMatch({ok, _}, petri_loader:parse(src(Wide))).

atom_cap_test() ->
    Names = [io_lib:format("zz_petri_new_atom_~b", [I]) || I <- lists:seq(1, 100)],
    Before = erlang:system_info(atom_count),
    Body = ["f(X) -> [", lists:join(",", Names), "].\n"],
    ?assertMatch({error, parse_error, <<"source would create 100 new atoms, limit 64">>},
                 petri_loader:parse(src(Body))),
    ?assertEqual(Before, erlang:system_info(atom_count)),
    %% quoted atoms with escapes count one by one
    Quoted = [io_lib:format("'q\\~b'", [I]) || I <- lists:seq(100, 180)],
    ?assertMatch({error, parse_error, <<"source would create", _/binary>>},
                 petri_loader:parse(src(["f(X) -> [", lists:join(",", Quoted), "].\n"]))),
    %% letters glued to a number are counted (erl_scan makes them an atom)
    Glued = [io_lib:format("8#7zz_petri_glued_~b", [I]) || I <- lists:seq(1, 70)],
    ?assertMatch({error, parse_error, <<"source would create", _/binary>>},
                 petri_loader:parse(src(["f(X) -> [", lists:join(",", Glued), "].\n"]))),
    ?assertEqual(Before, erlang:system_info(atom_count)).

parse_error_test() ->
    ?assertMatch({error, parse_error, <<"line 3: ", _/binary>>}, petri_loader:parse(src("f(X) -> X +.\n"))),
    ?assertMatch({error, parse_error, <<"missing final dot">>}, petri_loader:parse(src("f(X) -> X"))),
    ?assertMatch({error, parse_error, <<"no -module attribute">>}, petri_loader:parse(<<"f(X) -> X.\n">>)),
    ?assertMatch({error, parse_error, <<"source is not valid UTF-8">>}, petri_loader:parse(<<255, 0>>)),
    ?assertMatch({error, parse_error, <<"line 2: unterminated string", _/binary>>},
                 petri_loader:parse(<<"-module(g).\n\"open">>)).

attributes_test_() ->
    [?_assertMatch({error, unsafe, <<"line 3: attribute -", _/binary>>},
                   petri_loader:parse(src([A, "\nf(X) -> X.\n"])))
     || A <- ["-on_load(f/0).", "-compile(export_all).", "-import(os, [cmd/1]).",
              "-include(\"x.hrl\").", "-include_lib(\"kernel/include/file.hrl\").",
              "-record(r, {a}).", "-behaviour(gen_server).", "-nifs([f/1])."]].

spec_dropped_test() ->
    {ok, Forms} = petri_loader:parse(src("-spec f(integer()) -> integer().\nf(X) -> X.\n")),
    ?assertEqual([], [F || {attribute, _, spec, _} = F <- Forms]).

export_test() ->
    ?assertEqual({error, compile_error, <<"function f/1 is not exported">>},
                 petri_loader:load(spec(), <<"-module(g).\n-export([g/1]).\ng(X) -> X.\n">>, ?SLOT)),
    %% wrong arity: f/2 exported, the spec wants f/1
    ?assertEqual({error, compile_error, <<"function f/1 is not exported">>},
                 petri_loader:load(spec(), <<"-module(g).\n-export([f/2]).\nf(X, Y) -> X + Y.\n">>, ?SLOT)),
    ?assertMatch({error, compile_error, <<"line 2: function f/1 undefined">>},
                 petri_loader:load(spec(), <<"-module(g).\n-export([f/1]).\ng(X) -> X.\n">>, ?SLOT)).

compile_error_test() ->
    ?assertMatch({error, compile_error, <<"line 3: variable 'Y' is unbound">>},
                 petri_loader:load(spec(), src("f(X) -> Y.\n"), ?SLOT)).

unsafe_test() ->
    ?assertMatch({error, unsafe, <<"line 3: call to os:cmd/1 is not allowed">>},
                 petri_loader:load(spec(), src("f(X) -> os:cmd(X).\n"), ?SLOT)).

%% load_forms/4 (a child bred in the VM): still the export check and the
%% safety scan; without erl_lint only when told the forms passed it.
load_forms_test() ->
    Forms = fun(Body) -> {ok, F} = petri_loader:parse(src(Body)), F end,
    ?assertEqual(ok, petri_loader:load_forms(spec(), Forms("f(X) -> X * 5.\n"), true, ?SLOT)),
    ?assertEqual(20, ?SLOT:f(4)),
    ?assertMatch({error, unsafe, <<"line 3: call to os:cmd/1 is not allowed">>},
                 petri_loader:load_forms(spec(), Forms("f(X) -> os:cmd(X).\n"), true, ?SLOT)),
    NoExport = [F || F <- Forms("f(X) -> X.\n"), element(3, F) =/= export],
    ?assertMatch({error, compile_error, <<"function f/1 is not exported">>},
                 petri_loader:load_forms(spec(), NoExport, true, ?SLOT)),
    ?assertMatch({error, compile_error, <<"line 3: variable 'Y' is unbound">>},
                 petri_loader:load_forms(spec(), Forms("f(X) -> Y.\n"), false, ?SLOT)),
    _ = code:purge(?SLOT), true = code:delete(?SLOT), _ = code:purge(?SLOT).

language_test() ->
    ?assertMatch({error, unsupported, _}, petri_loader:prepare((spec())#{language => 5}, <<>>)).

%% compile/2 (the fast path on OTP 25) builds code that computes exactly what the
%% compiler's own output computes, including funs, try, guards and recursion.
compile_matches_compiler_test() ->
    M = petri_loader_test_slot3,
    Bodies = ["f(X) -> (X * X + 2 * X) - 1.\n",
              "f(X) when X > 0 -> case X rem 2 of 0 -> X / 2.5; _ -> abs(X) * 1.5e3 end;\n"
              "f(X) -> g(X, [1, 2, 3]).\n"
              "g(X, L) -> lists:sum([X * Y || Y <- L]) + maps:get(a, #{a => X}, 0).\n",
              "f(X) -> try 10 div (X - 3) catch error:badarith -> -1.0 end + math:sin(X).\n",
              "f(X) -> F = fun(Y) -> Y * X end, F(3) + h(X, 5).\n"
              "h(_, 0) -> 0; h(X, N) -> X + h(X, N - 1).\n"],
    [begin
         {ok, Forms} = petri_loader:prepare(spec(), src(B)),
         {ok, Fast} = petri_loader:compile(Forms, M),
         {ok, M, Slow} = compile:forms(petri_loader:rename(Forms, M), [binary]),
         ?assertEqual(results(M, Slow), results(M, Fast))
     end || B <- Bodies].

%% A loaded slot exports only the genome's own functions: module_info/0,1 are
%% dropped so that code loads stay cheap with many live slots.
no_module_info_test() ->
    M = petri_loader_test_slot4,
    ?assertEqual(ok, petri_loader:load(spec(), src("f(X) -> X + 1.\n"), M)),
    ?assertEqual(3, M:f(2)),
    ?assertNot(erlang:function_exported(M, module_info, 0)),
    ?assertNot(erlang:function_exported(M, module_info, 1)),
    ?assertError(undef, M:module_info()),
    _ = code:purge(M), true = code:delete(M), _ = code:purge(M).

results(M, Bin) ->
    _ = code:purge(M),
    {module, M} = code:load_binary(M, atom_to_list(M), Bin),
    R = [catch M:f(X) || X <- lists:seq(-5, 5) ++ [0.5, -2.5]],
    _ = code:purge(M), true = code:delete(M), _ = code:purge(M),
    R.

compile_error_text_test() ->
    {ok, Forms} = petri_loader:prepare(spec(), src("f(X) -> X + Y.\n")),
    ?assertEqual({error, compile_error, <<"line 3: variable 'Y' is unbound">>},
                 petri_loader:compile(Forms, petri_loader_test_slot3)).

%% Whole modules from tests/integration/genomes load and run correctly.
genome(Name) ->
    {ok, Src} = file:read_file(filename:join([filename:dirname(code:which(?MODULE)), "..", "..",
                                              "tests", "integration", "genomes", Name])),
    Src.

sort_spec() -> petri_spec:new(#{function => <<"sort">>, arity => 1, language => 0}).

msort_test() ->
    M = petri_loader_test_msort,
    ?assertEqual(ok, petri_loader:load(sort_spec(), genome("msort.erl"), M)),
    ?assertEqual([-2, 0, 1, 1, 3, 5, 9], M:sort([5, 3, 9, 1, 1, 0, -2])),
    ?assertEqual([], M:sort([])).

words_test() ->
    M = petri_loader_test_words,
    ?assertEqual(ok, petri_loader:load(sort_spec(), genome("words.erl"), M)),
    ?assertEqual(<<"fox brown quick the">>, M:sort(<<"the quick  brown fox">>)),
    ?assertEqual(5, M:vowels(<<"the quick  brown fox">>)).

%% The compiled module is checked too: an import outside the allowlist is refused.
check_beam_test() ->
    {ok, _, Bin} = compile:forms([{attribute, 1, module, m}, {attribute, 1, export, [{f, 0}]},
                                  {function, 1, f, 0, [{clause, 1, [], [],
                                   [{call, 1, {remote, 1, {atom, 1, os}, {atom, 1, cmd}}, [{string, 1, "ls"}]}]}]}],
                                 [binary]),
    ?assertEqual({error, <<"compiled module imports os:cmd/1, which is not allowed">>},
                 petri_safety:check_beam(Bin)).

%% ... and so is a dynamic call, which compiles to an instruction, not an import.
check_beam_apply_test() ->
    {ok, _, Bin} = compile:forms([{attribute, 1, module, m}, {attribute, 1, export, [{f, 1}]},
                                  {function, 1, f, 1, [{clause, 1, [{var, 1, 'X'}], [],
                                   [{call, 1, {remote, 1, {var, 1, 'X'}, {atom, 1, g}}, []}]}]}],
                                 [binary]),
    ?assertEqual({error, <<"compiled function f/1 makes a dynamic call">>}, petri_safety:check_beam(Bin)).

%% fun M:F/A of allowed functions compiles without erlang:make_fun/3 (which
%% the .beam check refuses) and still calls the checked versions.
external_fun_test() ->
    M = petri_loader_test_extfun,
    Src = <<"-module(g).\n-export([sort/1]).\n"
            "sort(L) -> lists:map(fun erlang:abs/1, lists:sort(fun erlang:'>'/2, L)) ++ [lists:foldl(fun erlang:max/2, 0, L)]"
            " ++ lists:zipwith(fun lists:seq/2, [1], [2]).\n">>,
    ?assertEqual(ok, petri_loader:load(sort_spec(), Src, M)),
    ?assertEqual([3, 1, 2, 3, [1, 2]], M:sort([1, -2, 3])).
