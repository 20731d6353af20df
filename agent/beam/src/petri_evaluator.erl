%% petri_evaluator - the operator's evaluator module of a spec: compiled once
%% per VM (cached by the hash of its language and source) and loaded under its
%% own module name, never into a genome slot.
%%
%% Invariants:
%%  1. The source is trusted (the operator wrote it): no allowlist, the real
%%     compilers (compile:forms/2, Elixir's Code.compile_string/2). It is
%%     compiled by the calling worker process, never by the port owner.
%%  2. One compilation per distinct source at a time: the compiling process
%%     holds a registered name as its lock; the others wait for it, then find
%%     the module in the cache. A lock holder that dies frees the name.
%%  3. A module name already loaded by anything but this cache is refused, so
%%     an evaluator cannot replace petri's own code or a library's.
%%  4. Failures: compile errors are status internal with the compiler's text
%%     (the operator's spec is at fault, not the genome); an Elixir evaluator
%%     where Elixir is absent is unsupported. Failures are cached like
%%     modules: a broken evaluator is compiled once, not once per genome.
-module(petri_evaluator).

-export([ensure/2]).

-define(LOCK, petri_evaluator_lock).
-define(WAIT_MS, 5).
-define(DETAIL_CHARS, 1000).

%% The module holding the evaluator of Lang/Source, compiling it if needed.
-spec ensure(erlang | elixir, binary()) -> {ok, module()} | petri_loader:error().
ensure(Lang, Source) ->
    Key = {?MODULE, crypto:hash(sha256, [atom_to_binary(Lang, utf8), 0, Source])},
    case cached(Key) of
        miss -> locked(Key, Lang, Source);
        Known -> Known
    end.

-spec cached({module(), binary()}) -> {ok, module()} | petri_loader:error() | miss.
cached(Key) ->
    case persistent_term:get(Key, none) of
        none -> miss;
        {ok, Mod} ->
            case erlang:module_loaded(Mod) of
                true -> {ok, Mod};
                false -> miss
            end;
        {error, _, _} = Err -> Err
    end.

-spec locked({module(), binary()}, erlang | elixir, binary()) -> {ok, module()} | petri_loader:error().
locked(Key, Lang, Source) ->
    try register(?LOCK, self()) of
        true ->
            try
                case cached(Key) of
                    miss -> compile(Key, Lang, Source);
                    Known -> Known
                end
            after
                unregister(?LOCK)
            end
    catch
        error:badarg ->
            timer:sleep(?WAIT_MS),
            ensure(Lang, Source)
    end.

-spec compile({module(), binary()}, erlang | elixir, binary()) -> {ok, module()} | petri_loader:error().
compile(Key, Lang, Source) ->
    Res = try
              case Lang of
                  erlang -> compile_erlang(Source);
                  elixir -> compile_elixir(Source)
              end
          catch
              C:R -> err(internal, "evaluator: compiler failed: ~p:~0P", [C, R, 20])
          end,
    case Res of
        {ok, Mod} -> persistent_term:put({?MODULE, owned, Mod}, true);
        _ -> ok
    end,
    persistent_term:put(Key, Res),
    Res.

-spec compile_erlang(binary()) -> {ok, module()} | petri_loader:error().
compile_erlang(Source) ->
    case forms(Source) of
        {ok, Forms} ->
            case compile:forms(Forms, [binary, return_errors, no_spawn_compiler_process]) of
                {ok, Mod, Bin} -> load(Mod, Bin);
                {ok, Mod, Bin, _Warnings} -> load(Mod, Bin);
                {error, Errors, _} -> err(internal, "evaluator: ~ts", [format_errors(Errors)])
            end;
        Err -> Err
    end.

-spec forms(binary()) -> {ok, [erl_parse:abstract_form()]} | petri_loader:error().
forms(Source) ->
    case unicode:characters_to_list(Source, utf8) of
        Chars when is_list(Chars) ->
            case erl_scan:string(Chars, 1) of
                {ok, Toks, _} -> parse_forms(Toks, [], []);
                {error, {L, M, D}, _} -> err(internal, "evaluator: line ~p: ~ts", [L, M:format_error(D)])
            end;
        _ -> err(internal, "evaluator: source is not valid UTF-8", [])
    end.

-spec parse_forms([erl_scan:token()], [erl_scan:token()], [erl_parse:abstract_form()]) ->
          {ok, [erl_parse:abstract_form()]} | petri_loader:error().
parse_forms([], [], Acc) ->
    {ok, lists:reverse(Acc)};
parse_forms([], _, _) ->
    err(internal, "evaluator: source ends inside a form (missing '.')", []);
parse_forms([{dot, _} = Dot | T], Cur, Acc) ->
    case erl_parse:parse_form(lists:reverse([Dot | Cur])) of
        {ok, F} -> parse_forms(T, [], [F | Acc]);
        {error, {L, M, D}} -> err(internal, "evaluator: line ~p: ~ts", [L, M:format_error(D)])
    end;
parse_forms([Tok | T], Cur, Acc) ->
    parse_forms(T, [Tok | Cur], Acc).

-spec format_errors([{term(), [{term(), module(), term()}]}]) -> iolist().
format_errors(Errors) ->
    lists:join("; ", [io_lib:format("line ~p: ~ts", [line(Loc), M:format_error(D)])
                      || {_, Es} <- Errors, {Loc, M, D} <- Es]).

-spec line(term()) -> term().
line({L, _}) -> L;
line(L) -> L.

-spec load(module(), binary()) -> {ok, module()} | petri_loader:error().
load(Mod, Bin) ->
    case taken(Mod) of
        true -> err(internal, "evaluator: module name ~p is taken by a loaded module", [Mod]);
        false ->
            case code:load_binary(Mod, "evaluator", Bin) of
                {module, Mod} -> exports_evaluate(Mod);
                {error, Why} -> err(internal, "evaluator: loading ~p failed: ~p", [Mod, Why])
            end
    end.

%% A module loaded by anyone but this cache (petri itself, a library, a slot).
-spec taken(module()) -> boolean().
taken(Mod) ->
    (erlang:module_loaded(Mod) orelse code:which(Mod) =/= non_existing)
        andalso not persistent_term:get({?MODULE, owned, Mod}, false).

-spec exports_evaluate(module()) -> {ok, module()} | petri_loader:error().
exports_evaluate(Mod) ->
    case erlang:function_exported(Mod, evaluate, 1) of
        true -> {ok, Mod};
        false -> err(internal, "evaluator: module ~p does not export evaluate/1", [Mod])
    end.

-spec compile_elixir(binary()) -> {ok, module()} | petri_loader:error().
compile_elixir(Source) ->
    case petri_elixir:available() of
        false -> {error, unsupported, <<"evaluator: elixir is not installed on this host">>};
        true ->
            %% the compiler needs the elixir application (genomes never do)
            _ = application:ensure_all_started(elixir),
            %% Code.compile_string/2 loads the modules it defines under
            %% their own names (trusted source: no name check as for Erlang).
            try 'Elixir.Code':compile_string(Source, <<"evaluator.ex">>) of
                Mods ->
                    case [M || {M, _} <- Mods, erlang:function_exported(M, evaluate, 1)] of
                        [Mod | _] -> {ok, Mod};
                        [] -> err(internal, "evaluator: no module of it exports evaluate/1", [])
                    end
            catch
                error:E -> err(internal, "evaluator: ~ts", [elixir_message(E)])
            end
    end.

-spec elixir_message(term()) -> iodata().
elixir_message(E) ->
    try 'Elixir.Exception':message(E)
    catch _:_ -> io_lib:format("~0P", [E, 20])
    end.

-spec err(petri_wire:status(), io:format(), [term()]) -> petri_loader:error().
err(Status, Fmt, Args) ->
    S = lists:flatten(io_lib:format(Fmt, Args)),
    T = case length(S) > ?DETAIL_CHARS of
            true -> lists:sublist(S, ?DETAIL_CHARS) ++ "...";
            false -> S
        end,
    B = case unicode:characters_to_binary(T) of
            Bin when is_binary(Bin) -> Bin;
            _ -> <<"evaluator: (unprintable error)">>
        end,
    {error, Status, petri_wire:sanitize_str(B)}.
