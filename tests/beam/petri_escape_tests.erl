%% petri_escape_tests - the escape corpus (tests/escape/*): genomes that try
%% to get out of the sandbox or to stall the VM. Each names its expected
%% status on its first line ("%% expect: unsafe"); a limit status (crash from
%% a petri_std cap, heap_limit, timeout) is the verdict for work the genome
%% controls. Nothing may appear in the working directory, and a good genome
%% still scores after the whole corpus.
-module(petri_escape_tests).
-include_lib("eunit/include/eunit.hrl").

-define(SLOT, petri_escape_test_slot).

dir() ->
    filename:join([filename:dirname(code:which(?MODULE)), "..", "..", "tests", "escape"]).

spec() -> spec(0).

spec(Lang) ->
    petri_spec:new(#{function => <<"sort">>, arity => 1, cases => [{[1], 1}],
                     timeout_ms => 2000, language => Lang}).

%% The corpus: Erlang genomes, and Elixir ones where Elixir is installed.
files() ->
    _ = code:add_pathz("/usr/lib/elixir/lib/elixir/ebin"),
    Ex = case petri_elixir:available() of
             true -> filelib:wildcard(filename:join(dir(), "*.ex"));
             false -> []
         end,
    lists:sort(filelib:wildcard(filename:join(dir(), "*.erl")) ++ Ex).

lang(F) ->
    case filename:extension(F) of
        ".ex" -> 1;
        _ -> 0
    end.

expected(Src) ->
    case re:run(Src, "^(?:%%|#) expect: ([a-z_]+)", [{capture, all_but_first, binary}]) of
        {match, [S]} -> binary_to_atom(S, utf8);
        nomatch -> error({no_expectation, Src})
    end.

verdict_ok(crash, St) -> lists:member(St, [crash, heap_limit, timeout]);
verdict_ok(Expect, St) -> Expect =:= St.

corpus_test_() ->
    Files = files(),
    {timeout, 120,
     fun() ->
             ?assert(length(Files) >= 25),
             {ok, Cwd} = file:get_cwd(),
             Before = lists:sort(filelib:wildcard("*", Cwd)),
             [begin
                  {ok, Src} = file:read_file(F),
                  Expect = expected(Src),
                  {St, _, Detail, _, _} = petri_eval:job(spec(lang(F)), Src, ?SLOT),
                  _ = code:purge(?SLOT),
                  ?assert(verdict_ok(Expect, St), {F, Expect, St, Detail}),
                  ?assertNotEqual(ok, St),
                  ?assertNotEqual(<<>>, Detail, F)
              end || F <- Files],
             ?assertEqual(Before, lists:sort(filelib:wildcard("*", Cwd))),
             Good = <<"-module(g).\n-export([sort/1]).\nsort(X) -> X * X.\n">>,
             ?assertMatch({ok, 0.0, _, _, _}, petri_eval:job(spec(), Good, ?SLOT)),
             _ = code:purge(?SLOT)
     end}.

%% Unsafe verdicts name the construct and the line.
details_test() ->
    {ok, Src} = file:read_file(filename:join(dir(), "dyn_module.erl")),
    ?assertMatch({unsafe, nan, <<"line 4: dynamic call (module or function is not a literal atom) is not allowed">>, _, 0},
                 petri_eval:job(spec(), Src, ?SLOT)).

%% The atoms compiling creates are counted: a module with many funs is
%% rejected by the pre-scan.
fun_flood_test() ->
    {ok, Src} = file:read_file(filename:join(dir(), "fun_flood.erl")),
    ?assertMatch({parse_error, nan, <<"source has 140 funs", _/binary>>, _, _}, petri_eval:job(spec(), Src, ?SLOT)).

%% Atoms made elsewhere in the VM while a genome compiles are not charged to
%% it: the count is taken under the loader lock. Here another process holds
%% the lock and makes more atoms than the cap while a load waits for it.
atom_count_lock_test() ->
    Self = self(),
    Holder = spawn(fun() ->
                           N = petri_loader:with_lock(fun() ->
                                                          Self ! {self(), locked},
                                                          receive go -> ok end,
                                                          length([binary_to_atom(iolist_to_binary(io_lib:format("petri_escape_lock_~b_~b",
                                                                                                         [erlang:unique_integer([positive]), I])), utf8)
                                                           || I <- lists:seq(1, petri_loader:atom_cap() + 100)])
                                                  end),
                           Self ! {self(), released, N}
                   end),
    receive {Holder, locked} -> ok end,
    Loader = spawn(fun() ->
                           Src = <<"-module(g).\n-export([sort/1]).\nsort(X) -> [Y + 1 || Y <- [X]].\n">>,
                           Self ! {self(), petri_loader:load(spec(), Src, petri_escape_lock_slot)}
                   end),
    %% the load waits for the lock (without it, it would be done by now)
    receive {Loader, Early} -> ?assertEqual(waiting_for_the_lock, Early) after 100 -> ok end,
    Holder ! go,
    receive {Holder, released, N} -> ?assert(N > petri_loader:atom_cap()) end,
    receive {Loader, R} -> ?assertEqual(ok, R) end.
