%% petri_safety_tests - the rejection corpus: each genome is refused by the
%% allowlist scan (before anything is compiled or run) with a named reason;
%% legitimate genomes pass.
-module(petri_safety_tests).
-include_lib("eunit/include/eunit.hrl").

forms(Src) ->
    {ok, Forms} = petri_loader:parse(iolist_to_binary(Src)),
    Forms.

scan(Src) ->
    petri_safety:check(forms(["-module(genome).\n-export([f/1]).\n", Src])).

body(Body) ->
    scan(["f(X) ->\n", Body, ".\n"]).

rejects(Body, Expect) ->
    case body(Body) of
        {error, Why} ->
            ?assertNotEqual(nomatch, binary:match(Why, list_to_binary(Expect)),
                            {Body, Why});
        ok ->
            ?assert(false, {accepted, Body})
    end.

corpus() ->
    [{"os:cmd(\"rm -rf /\")", "call to os:cmd/1 is not allowed"},
     {"open_port({spawn, \"sh\"}, [])", "call to open_port/2 is not allowed"},
     {"erlang:open_port({spawn, \"sh\"}, [])", "call to erlang:open_port/2"},
     {"M = os, M:cmd(\"ls\")", "dynamic call"},
     {"F = cmd, os:F(\"ls\")", "dynamic call"},
     {"(list_to_atom(\"os\")):cmd(\"ls\")", "dynamic call"},
     {"apply(os, cmd, [\"ls\"])", "call to apply/3 is not allowed"},
     {"apply(fun erlang:halt/0, [])", "call to apply/2"},
     {"erlang:apply(os, cmd, [\"ls\"])", "call to erlang:apply/3"},
     {"list_to_atom(\"x\")", "call to list_to_atom/1"},
     {"binary_to_atom(<<\"x\">>, utf8)", "line 4: call to binary_to_atom/2"},
     {"binary_to_atom(X, utf8)", "call to binary_to_atom/2"},
     {"erlang:list_to_existing_atom(\"x\")", "call to erlang:list_to_existing_atom/1"},
     {"erlang:halt()", "call to erlang:halt/0"},
     {"halt(0)", "call to halt/1"},
     {"spawn(fun() -> X end)", "call to spawn/1"},
     {"spawn_link(fun() -> X end)", "call to spawn_link/1"},
     {"erlang:spawn_opt(fun() -> X end, [])", "call to erlang:spawn_opt/2"},
     {"self() ! X", "message send (!) is not allowed"},
     {"erlang:send(self(), X)", "call to erlang:send/2"},
     {"receive Y -> Y end", "receive is not allowed"},
     {"receive Y -> Y after 0 -> X end", "receive is not allowed"},
     {"binary_to_term(X)", "call to binary_to_term/1"},
     {"process_flag(trap_exit, true)", "call to process_flag/2"},
     {"code:load_binary(m, \"m\", X)", "call to code:load_binary/3"},
     {"ets:new(t, [])", "call to ets:new/2"},
     {"file:read_file(\"/etc/passwd\")", "call to file:read_file/1"},
     {"persistent_term:put(k, X)", "call to persistent_term:put/2"},
     {"io:format(\"hi~n\")", "call to io:format/1"},
     {"erlang:display(X)", "call to erlang:display/1"},
     {"put(k, X)", "call to put/2"},
     {"get(k)", "call to get/1"},
     {"erlang:load_nif(\"x\", 0)", "call to erlang:load_nif/2"},
     {"F = fun() -> os:cmd(\"ls\") end, F()", "call to os:cmd/1"},
     {"[os:cmd(\"ls\") || _ <- [X]]", "call to os:cmd/1"},
     {"[Y || Y <- [X], is_integer(os:getpid())]", "call to os:getpid/0"},
     {"case X of 1 -> 1; _ -> erlang:halt() end", "call to erlang:halt/0"},
     {"F = fun erlang:halt/0, F()", "fun erlang:halt/0 is not allowed"},
     {"M = erlang, F = halt, G = fun M:F/0, G()", "fun M:F/A with non-literal parts"},
     {"group_leader()", "call to group_leader/0"},
     {"register(x, self())", "call to register/2"},
     {"link(X)", "call to link/1"},
     {"monitor(process, X)", "call to monitor/2"},
     {"exit(X, kill)", "call to exit/2"},
     {"erlang:system_flag(schedulers_online, 1)", "call to erlang:system_flag/2"},
     {"erlang:system_info(os_pid)", "call to erlang:system_info/1"},
     {"node()", "call to node/0"},
     {"nodes()", "call to nodes/0"},
     {"erlang:make_fun(os, cmd, 1)", "call to erlang:make_fun/3"},
     {"port_command(X, <<>>)", "call to port_command/2"},
     {"erlang:port_close(X)", "call to erlang:port_close/1"},
     {"<< <<B>> || <<B>> <= os:getenv() >>", "call to os:getenv/0"},
     {"<<(os:getpid())/binary>>", "call to os:getpid/0"},
     {"<<0:1099511627776>>", "bit syntax size"},
     {"list_to_existing_atom(X)", "call to list_to_existing_atom/1"},
     {"#{'__struct__' => 'Elixir.File.Stream'}", "__struct__"},
     {"maps:put('__struct__', 'Elixir.File.Stream', #{})", "__struct__"},
     {"string:pad(X, 1000000000)", "call to string:pad/2"},
     {"re:run(X, \"(a+)+$\")", "call to re:run/2"},
     {"try X catch _:_ -> os:cmd(\"ls\") end", "call to os:cmd/1"},
     {"begin (fun(Y) -> erlang:halt(Y) end)(X) end", "call to erlang:halt/1"},
     {"lists:map(fun erlang:halt/1, [X])", "fun erlang:halt/1"},
     {"lists:foreach(fun io:put_chars/1, [X])", "fun io:put_chars/1"},
     {"maps:get(k, #{k => os:cmd(\"ls\")})", "call to os:cmd/1"},
     {"erlang:term_to_binary(X)", "call to erlang:term_to_binary/1"},
     %% a spec may name Elixir modules as primitives; the scan still decides
     {"'Elixir.System':cmd(\"id\", [])", "call to System.cmd/2"},
     {"'Elixir.File':read(X)", "call to File.read/1"},
     {"'Elixir.Code':eval_string(X)", "call to Code.eval_string/1"}].

corpus_test_() ->
    [{Body, ?_test(rejects(Body, Expect))} || {Body, Expect} <- corpus()].

guard_test() ->
    ?assertMatch({error, <<"line 3: call to node/0", _/binary>>},
                 scan("f(X) when node() =:= X -> 1;\nf(_) -> 0.\n")).

clash_test() ->
    ?assertMatch({error, <<"line 4: function spawn/1 clashes", _/binary>>},
                 scan("f(X) -> X.\nspawn(X) -> X.\n")).

local_fun_test() ->
    ?assertEqual(ok, scan("f(X) -> G = fun g/1, G(X).\ng(X) -> X.\n")),
    ?assertMatch({error, <<"line 3: fun h/1 does not name", _/binary>>},
                 scan("f(X) -> G = fun h/1, G(X).\n")).

legit_test_() ->
    Bodies = ["X * X + 2 * X - 1",
              "math:sin(X) + math:pow(X, 2) - abs(X) / max(1, X)",
              "lists:foldl(fun(Y, A) -> A + Y end, 0, lists:seq(1, 3)) * X",
              "case X > 0 of true -> X; false -> -X end",
              "if X > 1 -> X rem 3; true -> trunc(X) end",
              "M = #{a => X}, maps:get(a, M) + element(1, {X})",
              "lists:sum([Y * 2 || Y <- [X, X], is_number(Y)])",
              "try 1 / X catch error:badarith -> 0.0 end",
              "G = fun(Y) -> Y + 1 end, G(X)",
              "lists:map(fun math:sqrt/1, [X])"],
    [{B, ?_assertEqual(ok, body(B))} || B <- Bodies].

helpers_test() ->
    ?assertEqual(ok, scan("f(X) -> g(X) + h(X, 2).\ng(X) -> X.\nh(A, B) -> A * B.\n")),
    ?assertMatch({error, <<"line 3: call to g/2 is not allowed">>}, scan("f(X) -> g(X, 1).\n")).

allowed_test() ->
    ?assert(petri_safety:allowed(math, sin, 1)),
    ?assert(petri_safety:allowed(erlang, '+', 2)),
    ?assertNot(petri_safety:allowed(erlang, halt, 0)),
    ?assertNot(petri_safety:allowed(os, cmd, 1)).

%% Whole modules: binaries, comprehensions, guards, helpers, the standard library.
modules_test_() ->
    Bodies = ["<< <<(C + 1)>> || <<C>> <= X >>",
              "[W || W <- binary:split(X, <<\" \">>, [global]), W =/= <<>>]",
              "string:lowercase(X)",
              "<<A:8, Rest/binary>> = X, {A, Rest}",
              "gb_trees:to_list(gb_trees:insert(1, X, gb_trees:empty()))",
              "queue:to_list(queue:in(X, queue:new()))",
              "unicode:characters_to_binary(X)",
              "iolist_to_binary([X, X])"],
    [{B, ?_assertEqual(ok, body(B))} || B <- Bodies].

%% The rewrites: what the compiler will see.
rewrite(Body) ->
    {ok, Forms} = petri_safety:scan(forms(["-module(genome).\n-export([f/1]).\nf(X) ->\n", Body, ".\n"])),
    [{function, _, f, 1, [{clause, _, _, _, [E]}]}] = [F || {function, _, _, _, _} = F <- Forms],
    E.

rewrites_test() ->
    Std = fun(F) -> {call, 4, {remote, 4, {atom, 4, petri_std}, {atom, 4, F}}, '_'} end,
    ?assertMatch({call, _, {remote, _, {atom, _, petri_std}, {atom, _, mul}}, _}, rewrite("X * X")),
    ?assertMatch({op, _, '*', _, _}, rewrite("X * 3")),
    ?assertMatch({op, _, '*', _, _}, rewrite("2.5 * X")),
    ?assertMatch({call, _, {remote, _, _, {atom, _, shl}}, _}, rewrite("1 bsl X")),
    ?assertMatch({op, _, 'bsl', _, _}, rewrite("X bsl 3")),
    ?assertMatch({call, _, {remote, _, _, {atom, _, binary_copy}}, _}, rewrite("binary:copy(X, 3)")),
    ?assertMatch({call, _, {remote, _, _, {atom, _, iolist_to_binary}}, _}, rewrite("iolist_to_binary(X)")),
    ?assertMatch({bin, _, [{bin_element, _, _, {call, _, {remote, _, _, {atom, _, bin_size}}, _}, _}]},
                 rewrite("<<0:X>>")),
    ?assertMatch({bin, _, [{bin_element, _, {call, _, {remote, _, _, {atom, _, bin_seg}}, _}, _, _}]},
                 rewrite("<<X/binary>>")),
    ?assertMatch({'fun', _, {clauses, [{clause, _, [_, _], [], [{call, _, {remote, _, {atom, _, petri_std}, {atom, _, lists_seq}}, [_, _]}]}]}},
                 rewrite("fun lists:seq/2")),
    _ = Std.

%% A guard may multiply: guards cannot loop, so nothing there is rewritten.
guard_arith_test() ->
    ?assertEqual(ok, scan("f(X) when X * X > 4 -> 1;\nf(_) -> 0.\n")).

%% docs/allowlist.md is what the allowlist generates (make allowlist-doc).
allowlist_doc_test() ->
    Doc = filename:join([filename:dirname(code:which(?MODULE)), "..", "..", "docs", "allowlist.md"]),
    {ok, Text} = file:read_file(Doc),
    ?assertEqual(petri_safety:allowlist_markdown(), Text).

%% Every module and function of the allowlist exists (a typo would be dead weight).
allowlist_exists_test() ->
    _ = code:add_pathz("/usr/lib/elixir/lib/elixir/ebin"),
    [begin
         case code:ensure_loaded(M) of
             {module, M} -> ?assert(erlang:function_exported(M, F, A) orelse erl_internal:bif(F, A)
                                    orelse erl_internal:guard_bif(F, A) orelse
                                    erl_internal:arith_op(F, A) orelse erl_internal:bool_op(F, A)
                                    orelse erl_internal:comp_op(F, A) orelse erl_internal:list_op(F, A)
                                    orelse F =:= 'andalso' orelse F =:= 'orelse', {M, F, A});
             _ -> ok   % Elixir not installed
         end
     end || {M, Fs} <- petri_safety:allowlist(), {F, A} <- Fs].

%% scan/2 with small arguments: straight-line arithmetic whose integers provably
%% stay small keeps its raw operators; anything that could grow past the cap, or
%% that the module itself calls (its arguments may be large), is still rewritten.
bounded_arith_test() ->
    Std = fun(Src) ->
                  {ok, Toks, _} = erl_scan:string(Src),
                  Forms = [begin {ok, F} = erl_parse:parse_form(T), F end || T <- split_dots(Toks)],
                  {ok, Out} = petri_safety:scan(Forms, #{small_args => true}),
                  string:find(lists:flatten(io_lib:format("~p", [Out])), "petri_std") =/= nomatch
          end,
    M = "-module(g).\n-export([f/1]).\n",
    ?assertNot(Std(M ++ "f(X) -> (X * X + 2 * X - 1) * (X * X * X).\n")),
    ?assertNot(Std(M ++ "f(X) -> Y = X * X, Z = Y * Y, Z div (X + 1).\n")),
    ?assertNot(Std(M ++ "f(X) -> math:sin(X * X) * X.\n")),
    %% twelve squarings of a 64-bit argument: 2^12 * 64 bits, over the cap
    Sq = lists:flatten([io_lib:format("V~b = V~b * V~b, ", [I + 1, I, I]) || I <- lists:seq(0, 11)]),
    ?assert(Std(M ++ "f(V0) -> " ++ Sq ++ "V12.\n")),
    %% a function the module calls may be given a large argument
    ?assert(Std(M ++ "f(X) -> g(g(X)).\ng(Y) -> Y * Y.\n")),
    %% recursion, funs and unknown calls are not straight-line
    ?assert(Std(M ++ "f(X) -> lists:foldl(fun(_, A) -> A * A end, X, [1, 2]).\n")),
    ?assert(Std(M ++ "f(X) -> lists:sum([X]) * X.\n")),
    %% without the small-argument promise every product is checked
    {ok, Toks, _} = erl_scan:string(M ++ "f(X) -> X * X.\n"),
    Forms = [begin {ok, F} = erl_parse:parse_form(T), F end || T <- split_dots(Toks)],
    {ok, Out} = petri_safety:scan(Forms, #{small_args => false}),
    ?assertNotEqual(nomatch, string:find(lists:flatten(io_lib:format("~p", [Out])), "petri_std")).

split_dots(Toks) ->
    {Acc, []} = lists:foldl(fun({dot, _} = D, {Fs, Cur}) -> {Fs ++ [lists:reverse([D | Cur])], []};
                               (T, {Fs, Cur}) -> {Fs, [T | Cur]}
                            end, {[], []}, Toks),
    Acc.
