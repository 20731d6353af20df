%% petri_elixir - the Elixir front end: a genome module compiled by the real
%% Elixir compiler, then handed to the Erlang path as abstract forms.
%%
%%   source -> Code.string_to_quoted (existing atoms only, size and depth caps)
%%          -> check of the quoted tree (below) -> Elixir compiler, under a
%%             scratch module name, without loading -> the Erlang forms of
%%             the result (its debug_info) -> petri_loader's Erlang path:
%%             allowlist scan and rewrites, rename to the slot, Erlang
%%             compile, import check, load.
%%
%% Invariants:
%%  0. Atoms: the source is parsed with existing atoms only; a new lowercase
%%     name is made an atom and the parse retried, at most ?MAX_NEW_ATOMS
%%     times (parse/2); a new alias is unsafe (it cannot name an allowed
%%     module). The compilation that follows is counted (invariant 2).
%%  1. Nothing of the genome runs at compile time. The Elixir compiler runs
%%     the module body and expands macros, so the quoted tree is checked
%%     first: the body holds only def/defp, `@name literal` attributes (not
%%     the ones that change compilation: reserved_attr/1) and `import
%%     Bitwise` / `require Integer`; function bodies may use Kernel's pure
%%     macros (pure_macro/2) and special forms, and remote calls only to
%%     modules on petri_safety's allowlist (whose macros, such as
%%     Integer.is_even/1, only build guards). Rejected with their line:
%%     every other macro, defining macros, use, quote/unquote, __ENV__ and
%%     __CALLER__, struct literals, receive, sigils that call code at compile
%%     time (~r, ~D, ~T, ...) or make atoms (~w(...)a).
%%  2. The compiler never loads what it compiles: the module is compiled
%%     under the scratch name ?SCRATCH with `@compile {:autoload, false}`
%%     and with the Erlang optimisations that evaluate constant expressions
%%     turned off (so `1 <<< 100_000_000` is not computed at compile time).
%%     Compilations take the loader's lock (one at a time, as the scratch
%%     name and the atom count need), and the atoms they create are counted
%%     against petri_loader:atom_cap/0.
%%  3. What the compiler produced is checked again as Erlang: the forms
%%     extracted from its debug_info go through petri_safety like an Erlang
%%     genome's (Elixir's own generated calls, such as String.Chars for
%%     interpolation, are on the allowlist or wrapped), so the call-level
%%     allowlist is enforced on what will actually run.
%%  4. Protocols are consolidated over safe implementations at the first
%%     compilation (consolidate/0): a forged struct that reaches
%%     Enum or to_string cannot dispatch to File.Stream or the like, and
%%     dispatch creates no atoms.
%%  5. Compiler warnings go to the VM's standard error (the agent's log):
%%     Elixir 1.14 prints them there unconditionally.
-module(petri_elixir).

-export([available/0, to_forms/2, warm/0]).

-define(MAX_SOURCE, 65536).
-define(MAX_NODES, 20000).
-define(MAX_DEPTH, 200).
-define(MAX_NEW_ATOMS, 64).
-define(MAX_FUNS, 128).
-define(SCRATCH, petri_elixir_scratch).
-define(SRCFILE, <<"genome.ex">>).

-type forms() :: [erl_parse:abstract_form()].

%% Whether Elixir is on the code path (the agent adds its ebin with -pa).
-spec available() -> boolean().
available() ->
    code:which('Elixir.Code') =/= non_existing.

%% Starts Elixir, compiles one module and consolidates the protocols, so
%% that the modules this loads are not counted against a genome's atoms.
%% Runs once, at the first Elixir genome, under the loader lock and before
%% the atom count starts; the consolidated Enumerable says it has run.
-spec warm() -> ok.
warm() ->
    case available() andalso not warmed() of
        false -> ok;
        true ->
            _ = application:ensure_all_started(elixir),
            _ = [list_to_atom(A) || A <- alias_names()],
            %% the allowlisted Elixir modules (petri_loader's warm-up leaves
            %% them out): loading one at a genome's compile would charge its
            %% atoms to that genome
            _ = [code:ensure_loaded(M) || {M, _} <- petri_safety:allowlist(),
                                          lists:prefix("Elixir.", atom_to_list(M))],
            _ = [code:ensure_loaded(M) || M <- ['Elixir.Kernel', 'Elixir.Kernel.SpecialForms',
                                                 'Elixir.Kernel.Utils', elixir_erl, elixir_erl_pass,
                                                 elixir_expand, elixir_def, elixir_module]],
            Src = <<"defmodule Genome do\n  import Bitwise\n  require Integer\n  @k 3\n"
                    "  def f(x) when Integer.is_even(x), do: for(y <- [x], do: y * @k) |> Enum.sum()\n"
                    "  def f(x) do\n    s = \"#{x} <> \" <> <<x::8>>\n"
                    "    case {x &&& 1, String.length(s)} do\n      {1, n} -> n\n      _ -> fn z -> z end.(x)\n    end\n"
                    "  rescue\n    _ -> 0\n  end\nend\n">>,
            _ = compile_source(Src),
            consolidate()
    end.

-spec warmed() -> boolean().
warmed() ->
    code:is_loaded('Elixir.Enumerable') =/= false andalso 'Elixir.Protocol':'consolidated?'('Elixir.Enumerable').

%% The short names of the allowlisted Elixir modules (their alias atoms).
-spec alias_names() -> [string()].
alias_names() ->
    [Name || {M, _} <- petri_safety:allowlist(), "Elixir." ++ Name <- [atom_to_list(M)]]
        ++ ["Genome", "Integer", "Bitwise", "String", "Chars"].

-spec consolidate() -> ok.
consolidate() ->
    Safe = [{'Elixir.Enumerable', ['Elixir.List', 'Elixir.Map', 'Elixir.MapSet', 'Elixir.Range',
                                   'Elixir.Function']},
            {'Elixir.Collectable', ['Elixir.List', 'Elixir.Map', 'Elixir.MapSet', 'Elixir.BitString']},
            {'Elixir.String.Chars', ['Elixir.Atom', 'Elixir.BitString', 'Elixir.List', 'Elixir.Integer',
                                     'Elixir.Float']},
            {'Elixir.List.Chars', ['Elixir.Atom', 'Elixir.BitString', 'Elixir.List', 'Elixir.Integer',
                                   'Elixir.Float']}],
    lists:foreach(
      fun({P, Impls}) ->
              case 'Elixir.Protocol':'consolidated?'(P) of
                  true -> ok;
                  false ->
                      {ok, Bin} = 'Elixir.Protocol':consolidate(P, Impls),
                      _ = code:purge(P),
                      {module, P} = code:load_binary(P, "consolidated", Bin)
              end
      end, Safe).

%% Source -> Erlang forms of the compiled module (module name ?SCRATCH; the
%% loader renames it to the slot).
-spec to_forms(petri_wire:spec(), binary()) -> {ok, forms()} | petri_loader:error().
to_forms(_Spec, Source) ->
    case available() of
        false -> {error, unsupported, <<"elixir is not installed on this host">>};
        true when byte_size(Source) > ?MAX_SOURCE ->
            err(parse_error, "source is ~b bytes, limit ~b", [byte_size(Source), ?MAX_SOURCE]);
        true ->
            petri_loader:with_lock(fun() ->
                                           ok = warm(),
                                           A0 = erlang:system_info(atom_count),
                                           Res = compile_source(Source),
                                           Created = erlang:system_info(atom_count) - A0,
                                           Cap = petri_loader:atom_cap(),
                                           case Res of
                                               {ok, _} when Created > Cap ->
                                                   err(unsafe, "compiling created ~b atoms, limit ~b", [Created, Cap]);
                                               _ -> Res
                                           end
                                   end)
    end.

-spec compile_source(binary()) -> {ok, forms()} | petri_loader:error().
compile_source(Source) ->
    case parse(Source, 0) of
        {ok, Q} ->
            case size_depth(Q, 1, {0, 0}) of
                {N, _} when N > ?MAX_NODES -> err(parse_error, "source has ~b nodes, limit ~b", [N, ?MAX_NODES]);
                {_, D} when D > ?MAX_DEPTH -> err(parse_error, "tree depth exceeds ~b", [?MAX_DEPTH]);
                _ ->
                    case funs(Q) of
                        F when F > ?MAX_FUNS ->
                            err(parse_error, "source has ~b funs, captures and comprehensions, limit ~b", [F, ?MAX_FUNS]);
                        _ -> checked(Q)
                    end
            end;
        Err -> Err
    end.

%% fn, & and for nodes: each becomes a fun or a local function (and an
%% atom) in the compiled module; counted before the compiler makes them.
-spec funs(term()) -> non_neg_integer().
funs({Form, _, Args}) when Form =:= fn; Form =:= '&'; Form =:= for ->
    1 + funs(Args);
funs(T) when is_tuple(T) -> funs(tuple_to_list(T));
funs(L) when is_list(L) -> lists:foldl(fun(E, N) -> N + funs(E) end, 0, L);
funs(_) -> 0.

%% Code.string_to_quoted with existing atoms only. A name that is not an
%% atom yet: an alias cannot name an allowed module (their atoms exist), so
%% the genome is unsafe; a lowercase name (a variable or a function) is made
%% an atom and the source parsed again, at most ?MAX_NEW_ATOMS times.
-spec parse(binary(), non_neg_integer()) -> {ok, term()} | petri_loader:error().
parse(Source, New) ->
    Parsed = try 'Elixir.Code':string_to_quoted(Source, [{existing_atoms_only, true}, {file, ?SRCFILE}])
             catch _:Why -> {error, {[], <<"parser failed: ">>, fmt("~0p", [Why])}}
             end,
    case Parsed of
        {ok, Q} -> {ok, Q};
        {error, {Meta, <<"unsafe atom does not exist: ">>, Name}} when is_binary(Name) ->
            case Name of
                <<C, _/binary>> when C >= $A, C =< $Z ->
                    case module_name(Source, Meta) andalso New < ?MAX_NEW_ATOMS of
                        true -> _ = binary_to_atom(Name, utf8), parse(Source, New + 1);
                        false -> err(unsafe, "line ~p: ~ts is not an allowed module", [line(Meta), Name])
                    end;
                _ when New >= ?MAX_NEW_ATOMS ->
                    err(parse_error, "source would create more than ~b new atoms", [?MAX_NEW_ATOMS]);
                _ ->
                    case identifier(Name) of
                        true -> _ = binary_to_atom(Name, utf8), parse(Source, New + 1);
                        false -> err(parse_error, "line ~p: name ~ts is not allowed", [line(Meta), Name])
                    end
            end;
        {error, {Meta, Msg, Tok}} ->
            err(parse_error, "line ~p: ~ts~ts", [line(Meta), text(Msg), text(Tok)]);
        _ -> err(parse_error, "unparsable source", [])
    end.

%% Whether the token at Meta is (part of) the name in `defmodule Name do`:
%% that name may be new (the module is compiled under ?SCRATCH anyway).
-spec module_name(binary(), list()) -> boolean().
module_name(Source, Meta) ->
    case {lists:keyfind(line, 1, Meta), lists:keyfind(column, 1, Meta)} of
        {{line, L}, {column, Col}} when is_integer(L), is_integer(Col), L >= 1, Col >= 1 ->
            Lines = binary:split(Source, <<"\n">>, [global]),
            L =< length(Lines) andalso
                begin
                    Line = lists:nth(L, Lines),
                    Prefix = binary:part(Line, 0, min(Col - 1, byte_size(Line))),
                    re:run(Prefix, "^\\s*defmodule\\s+([A-Z][A-Za-z0-9_]*\\.)*$") =/= nomatch
                end;
        _ -> false
    end.

%% A plain lowercase identifier (what a variable or function may be named).
-spec identifier(binary()) -> boolean().
identifier(<<C, Rest/binary>>) when (C >= $a andalso C =< $z) orelse C =:= $_, byte_size(Rest) < 64 ->
    lists:all(fun(X) -> (X >= $a andalso X =< $z) orelse (X >= $A andalso X =< $Z)
                            orelse (X >= $0 andalso X =< $9) orelse X =:= $_ orelse X =:= $?
                            orelse X =:= $! end, binary_to_list(Rest));
identifier(_) -> false.

-spec checked(term()) -> {ok, forms()} | petri_loader:error().
checked(Q) ->
    try module(Q) of
        Body -> compile(Body)
    catch
        throw:{unsafe, L, Why} -> err(unsafe, "line ~p: ~ts", [L, Why])
    end.

%% ---- the compiler ------------------------------------------------------------------

-spec compile([term()]) -> {ok, forms()} | petri_loader:error().
compile(Body) ->
    Opts = [{autoload, false}, no_copt, no_ssa_opt, no_type_opt, no_bool_opt, no_bsm_opt],
    Mod = {defmodule, [{line, 1}],
           [?SCRATCH, [{do, {'__block__', [], [{'@', [], [{compile, [], [Opts]}]} | Body]}}]]},
    try 'Elixir.Code':compile_quoted(Mod, ?SRCFILE) of
        [{?SCRATCH, Bin}] ->
            false = code:is_loaded(?SCRATCH),
            forms(Bin);
        Other ->
            err(compile_error, "the compiler produced ~b modules", [length(Other)])
    catch
        error:#{'__struct__' := 'Elixir.CompileError', description := D} = E ->
            err(compile_error, "line ~p: ~ts", [maps:get(line, E, 0), D]);
        error:#{'__exception__' := true} = E ->
            err(compile_error, "~ts", ['Elixir.Exception':message(E)]);
        C:R ->
            err(compile_error, "compilation failed: ~p:~0P", [C, R, 10])
    end.

%% The Erlang forms of a compiled Elixir module: the module, its exports
%% and functions, without __info__/1 (which nothing calls on a slot).
-spec forms(binary()) -> {ok, forms()} | petri_loader:error().
forms(Bin) ->
    case beam_lib:chunks(Bin, [debug_info]) of
        {ok, {_, [{debug_info, {debug_info_v1, Backend, Data}}]}} ->
            {ok, Forms} = Backend:debug_info(erlang_v1, ?SCRATCH, Data, []),
            {ok, [case F of
                      {attribute, L, export, Es} -> {attribute, L, export, Es -- [{'__info__', 1}]};
                      _ -> F
                  end || F <- Forms, keep(F)]};
        _ -> err(compile_error, "the compiled module has no debug info", [])
    end.

-spec keep(term()) -> boolean().
keep({attribute, _, module, _}) -> true;
keep({attribute, _, export, _}) -> true;
keep({attribute, _, compile, Opts}) -> Opts =:= [no_auto_import];
keep({function, _, '__info__', 1, _}) -> false;
keep({function, _, _, _, _}) -> true;
keep(_) -> false.

%% ---- the check of the quoted tree ------------------------------------------------------

-spec module(term()) -> [term()].
module({defmodule, _, [_Name, [{do, Body}]]}) ->
    Items = block(Body),
    [item(I) || I <- Items, not typespec(I)];
module({defmodule, M, _}) ->
    throw({unsafe, line(M), "the module must be `defmodule Name do ... end`"});
module(Other) ->
    throw({unsafe, line(meta(Other)), "the source must be a single defmodule"}).

-spec block(term()) -> [term()].
block({'__block__', _, Es}) -> Es;
block(E) -> [E].

%% @spec, @type, @typep and @typedoc only document: dropped before compiling
%% (they would be expanded by Kernel.Typespec at compile time).
-spec typespec(term()) -> boolean().
typespec({'@', _, [{Name, _, [_]}]}) -> lists:member(Name, [spec, type, typep, typedoc]);
typespec(_) -> false.

-spec item(term()) -> term().
item({Kind, M, [Head | Rest]} = D) when Kind =:= def; Kind =:= defp ->
    head(Head, M),
    case Rest of
        [] -> ok;
        [Blocks] when is_list(Blocks) ->
            [body(B) || {K, B} <- Blocks, lists:member(K, [do, rescue, 'catch', 'else', 'after'])],
            length([K || {K, _} <- Blocks, not lists:member(K, [do, rescue, 'catch', 'else', 'after'])]) =:= 0
                orelse throw({unsafe, line(M), "unexpected block in a def"});
        _ -> throw({unsafe, line(M), "unexpected def"})
    end,
    D;
item({'@', M, [{Name, _, [Value]}]} = A) when is_atom(Name) ->
    reserved_attr(Name) andalso throw({unsafe, line(M), fmt("attribute @~ts is not allowed", [Name])}),
    literal(Value) orelse throw({unsafe, line(M), fmt("attribute @~ts must be a literal", [Name])}),
    A;
item({import, _, [{'__aliases__', _, ['Bitwise']}]} = I) -> I;
item({require, _, [{'__aliases__', _, ['Integer']}]} = I) -> I;
item({Kind, M, _}) when Kind =:= import; Kind =:= require; Kind =:= alias; Kind =:= use ->
    throw({unsafe, line(M), fmt("~ts is not allowed (only import Bitwise and require Integer)", [Kind])});
item({Name, M, _}) when is_atom(Name) ->
    throw({unsafe, line(M), fmt("~ts in the module body is not allowed (only def, defp and literal attributes)", [Name])});
item(Other) ->
    throw({unsafe, line(meta(Other)), "code in the module body is not allowed (only def, defp and literal attributes)"}).

%% Attributes that change how the module is compiled or loaded (@doc,
%% @moduledoc and plain @name value are fine).
-spec reserved_attr(atom()) -> boolean().
reserved_attr(N) ->
    lists:member(N, [on_load, before_compile, after_compile, external_resource, compile,
                     behaviour, impl, derive, dialyzer, vsn, file, enforce_keys, on_definition,
                     optional_callbacks, callback, macrocallback, opaque, deprecated, since, nifs]).

-spec literal(term()) -> boolean().
literal(X) when is_number(X); is_binary(X); is_atom(X) -> true;
literal(L) when is_list(L) -> lists:all(fun literal/1, L);
literal({A, B}) -> literal(A) andalso literal(B);
literal({'{}', _, Es}) when is_list(Es) -> lists:all(fun literal/1, Es);
literal({'%{}', _, KVs}) when is_list(KVs) -> lists:all(fun literal/1, KVs);
literal({'-', _, [N]}) when is_number(N) -> true;
literal(_) -> false.

-spec head(term(), list()) -> ok.
head({'when', _, [Call, Guard]}, M) -> head(Call, M), body(Guard);
head({Name, _, Args}, _) when is_atom(Name), is_list(Args) -> body(Args);
head({Name, _, Ctx}, _) when is_atom(Name), is_atom(Ctx) -> ok;
head(_, M) -> throw({unsafe, line(M), "function heads must be name(args) [when guard]"}).

%% Walks a function body (or head) and throws on anything that would run
%% code at compile time or is never allowed.
-spec body(term()) -> ok.
body(L) when is_list(L) -> lists:foreach(fun body/1, L);
body({A, B}) -> body(A), body(B);
body({Form, M, _}) when Form =:= quote; Form =:= unquote; Form =:= unquote_splicing;
                        Form =:= 'receive'; Form =:= super; Form =:= '__ENV__';
                        Form =:= '__CALLER__'; Form =:= '__DIR__'; Form =:= import;
                        Form =:= require; Form =:= alias; Form =:= use;
                        Form =:= defmodule; Form =:= '%' ->
    throw({unsafe, line(M), fmt("~ts is not allowed", [Form])});
body({'__aliases__', M, Parts}) when is_list(Parts) ->
    case lists:all(fun is_atom/1, Parts) of
        true -> ok;
        false -> throw({unsafe, line(M), "computed alias is not allowed"})
    end;
body({{'.', M, [Mod, F]}, _, Args}) when is_atom(F), is_list(Args) ->
    case module_of(Mod) of
        {ok, Atom} ->
            lists:keymember(Atom, 1, petri_safety:allowlist()) orelse
                petri_safety:wrapped(Atom, F, length(Args)) =/= false orelse
                throw({unsafe, line(M), fmt("call to ~ts.~ts/~b is not allowed", [name(Atom), F, length(Args)])}),
            %% a remote macro runs at compile time: only the pure ones
            remote_macro(Atom, F, length(Args)) andalso not pure_remote(Atom, F, Args) andalso
                throw({unsafe, line(M), fmt("macro ~ts.~ts/~b is not allowed", [name(Atom), F, length(Args)])});
        dynamic -> body(Mod)
    end,
    body(Args);
body({{'.', _, [Fun]}, _, Args}) ->   % fun.(args)
    body(Fun), body(Args);
body({'.', M, _}) ->
    throw({unsafe, line(M), "this form of `.` is not allowed"});
body({'@', M, [{Name, _, Ctx}]}) when is_atom(Name), is_atom(Ctx) ->
    _ = M, ok;   % reading a literal attribute
body({'@', M, _}) ->
    throw({unsafe, line(M), "setting an attribute inside a function is not allowed"});
body({'&', _, [{'/', _, [{{'.', M, [Mod, F]}, _, []}, Ar]}]}) when is_atom(F), is_integer(Ar) ->
    %% &Mod.fun/arity: checked by the Erlang scan; the module must be allowed
    body({{'.', M, [Mod, F]}, [], lists:duplicate(Ar, 0)});
body({Name, M, Args}) when is_atom(Name), is_list(Args), Name =/= '__block__' ->
    lists:prefix("__", atom_to_list(Name)) andalso
        throw({unsafe, line(M), fmt("~ts is not allowed", [Name])}),
    case macro(Name, length(Args)) of
        true ->
            pure_macro(Name, Args) orelse
                throw({unsafe, line(M), fmt("macro ~ts/~b is not allowed", [Name, length(Args)])});
        false -> ok
    end,
    body(Args);
body({Name, _, Ctx}) when is_atom(Name), is_atom(Ctx) -> ok;   % a variable
body({Other, M, Args}) when is_list(Args) ->   % a call of a call's result, e.g. f.(x)
    _ = M, body(Other), body(Args);
body(X) when is_number(X); is_binary(X); is_atom(X) -> ok;
body(Other) ->
    throw({unsafe, line(meta(Other)), fmt("construct ~0P is not allowed", [Other, 4])}).

-spec module_of(term()) -> {ok, atom()} | dynamic.
module_of({'__aliases__', _, Parts}) when is_list(Parts) ->
    case lists:all(fun is_atom/1, Parts) of
        true ->
            Name = lists:flatten(["Elixir" | [[$. | atom_to_list(P)] || P <- Parts]]),
            try {ok, list_to_existing_atom(Name)}
            catch error:badarg -> {ok, petri_elixir_no_such_module}
            end;
        false -> dynamic
    end;
module_of(A) when is_atom(A) -> {ok, A};
module_of(_) -> dynamic.

%% Kernel and Kernel.SpecialForms macros (the special forms are handled
%% above or are plain syntax).
-spec macro(atom(), arity()) -> boolean().
macro(Name, Arity) ->
    lists:member({Name, Arity}, 'Elixir.Kernel':'__info__'(macros)).

%% Whether Mod (loaded by now if it exists) defines the macro F/A.
-spec remote_macro(atom(), atom(), arity()) -> boolean().
remote_macro(Mod, F, A) ->
    case code:ensure_loaded(Mod) =:= {module, Mod} andalso erlang:function_exported(Mod, '__info__', 1) of
        true -> lists:member({F, A}, Mod:'__info__'(macros));
        false -> false
    end.

-spec pure_remote(atom(), atom(), [term()]) -> boolean().
pure_remote('Elixir.Kernel', F, Args) -> pure_macro(F, Args);
pure_remote('Elixir.Integer', F, _) -> F =:= is_even orelse F =:= is_odd;
pure_remote(_, _, _) -> false.

-spec pure_macro(atom(), [term()]) -> boolean().
pure_macro(Sigil, [_, Mods]) when Sigil =:= sigil_w; Sigil =:= sigil_W ->
    is_list(Mods) andalso not lists:member($a, Mods);
pure_macro(Name, _) ->
    lists:member(Name, ['!', '&&', '..', '..//', '<>', 'and', 'or', '||', '|>', 'if', 'unless',
                        'in', 'is_nil', 'is_exception', 'is_struct', 'match?', 'raise',
                        'reraise', 'sigil_s', 'sigil_S', 'sigil_c', 'sigil_C', 'then', 'tap',
                        'to_string', 'to_charlist', 'destructure', 'def', 'defp', '@']).

-spec name(atom()) -> binary().
name(A) ->
    case atom_to_list(A) of
        "Elixir." ++ N -> list_to_binary(N);
        N -> unicode:characters_to_binary([$: | N])
    end.

%% ---- helpers ---------------------------------------------------------------------------

-spec text(term()) -> iodata().
text(B) when is_binary(B) -> B;
text({A, B}) -> [text(A), text(B)];
text(L) when is_list(L) -> try unicode:characters_to_binary(L) catch _:_ -> <<>> end;
text(X) -> fmt("~0p", [X]).

-spec size_depth(term(), pos_integer(), {non_neg_integer(), non_neg_integer()}) ->
          {non_neg_integer(), non_neg_integer()}.
size_depth(T, D, {N, MaxD}) when is_tuple(T) ->
    lists:foldl(fun(E, Acc) -> size_depth(E, D + 1, Acc) end, {N + 1, max(D, MaxD)}, tuple_to_list(T));
size_depth(L, D, Acc) when is_list(L) ->
    lists:foldl(fun(E, A) -> size_depth(E, D, A) end, Acc, L);
size_depth(_, D, {N, MaxD}) -> {N + 1, max(D, MaxD)}.

-spec meta(term()) -> list().
meta({_, M, _}) when is_list(M) -> M;
meta(_) -> [].

-spec line(term()) -> non_neg_integer().
line(M) when is_list(M) ->
    case lists:keyfind(line, 1, M) of
        {line, L} when is_integer(L) -> L;
        _ -> 0
    end;
line(_) -> 0.

-spec fmt(io:format(), [term()]) -> binary().
fmt(F, A) -> iolist_to_binary(io_lib:format(F, A)).

-spec err(petri_wire:status(), io:format(), [term()]) -> petri_loader:error().
err(Status, F, A) -> {error, Status, fmt(F, A)}.
