%% petri_loader - genome source -> loaded slot module:
%% parse (with caps) -> safety scan -> rename to the slot -> compile -> load.
%% Every failure is {error, Status, Detail} with a wire status.
%%
%% Invariants:
%%  1. Caps come first and are cheap: source bytes, then new atoms, then
%%     tokens, then tree depth; nothing bigger than the caps reaches the parser
%%     or the compiler.
%%  2. Atoms: erl_scan turns every atom and variable name into an atom, and the
%%     atom table is never collected. Before scanning, a small lexer lists the
%%     identifiers and quoted atoms of the source and rejects the genome if
%%     more than ?MAX_NEW_ATOMS of them do not exist yet. So a genome adds at
%%     most that many atoms; the agent recycles a VM after a number of loads
%%     (and sees the atom count in every PONG), which bounds the total.
%%  3. Only -module, -export and function forms reach the compiler (-spec,
%%     -type and the like are dropped); other attributes are unsafe.
%%  4. Compilation has a fast path (fast_compile/2): on the OTP release it was
%%     checked against, the same passes compile:forms/2 runs with ?COMPILE_OPTS,
%%     minus the two beam_validator passes and with no_postopt/no_throw_opt
%%     (a third less time per genome). Anything unexpected there, including
%%     every lint error, falls back to compile:forms/2, so errors and their
%%     texts are exactly those of the compiler. Loading goes straight to
%%     erlang:load_module/2 (not through code_server) and falls back to
%%     code:load_binary/3, which soft-purges unused old code, when that fails.
%%  6. Atoms created by compiling are counted, not guessed: the compiler
%%     makes an atom per fun and comprehension (-f/1-fun-0-) that the lexer
%%     cannot see. compile/3 reads erlang:system_info(atom_count) before and
%%     after compiling and rejects the module, before it is loaded, when more
%%     than ?MAX_CREATED_ATOMS appeared. Workers compile concurrently in one
%%     VM, so the count is taken under a VM-wide lock (with_lock/1, a
%%     registered process that grants one holder at a time and frees the
%%     lock when its holder dies): between the two readings only this
%%     compilation runs, and anything else that creates an atom meanwhile can
%%     only make the count larger (a stricter verdict), never smaller. The
%%     parse adds a conservative pre-scan: new identifiers, plus funs and
%%     comprehensions at most ?MAX_FUNS.
%%  7. After the safety scan and before compiling, petri_safety's rewrites
%%     apply (checked `*`, division, shifts, sizes, wrapped calls); after
%%     compiling, petri_safety:check_beam/1 checks the import table of
%%     the .beam before it is loaded.
%%  5. load_forms/4 takes a module already in forms (a child bred in this VM,
%%     whose text parses to exactly them): no parse and no caps (breeding
%%     bounds the tree), but the export check and the safety scan still run;
%%     erl_lint is skipped only when breeding ran it on the same functions.
-module(petri_loader).

-export([load/3, load_forms/4, prepare/2, parse/1, compile/2, compile/3, compile_load/2,
         rename/2, format_error/1, with_lock/1, atom_cap/0]).

-define(MAX_SOURCE, 65536).
-define(MAX_TOKENS, 20000).
-define(MAX_DEPTH, 200).
-define(MAX_NEW_ATOMS, 64).
-define(MAX_FUNS, 128).
-define(MAX_CREATED_ATOMS, 512).
-define(LOCK, petri_loader_lock).

%% Compiler options tuned for compile speed: genomes are tiny and run once.
-define(COMPILE_OPTS, [binary, return_errors, no_spawn_compiler_process,
                       no_ssa_opt, no_bool_opt, no_copt, no_recv_opt, no_bsm_opt,
                       no_share_opt, no_type_opt]).

-type error() :: {error, petri_wire:status(), binary()}.
-type forms() :: [erl_parse:abstract_form()].
-type ident() :: string() | {escaped, string()}.   % a would-be atom of the source
-export_type([error/0]).

%% Parses, checks, compiles and loads Source as module Slot.
-spec load(petri_wire:spec(), binary(), module()) -> ok | error().
load(Spec, Source, Slot) ->
    case prepare(Spec, Source) of
        {ok, Forms} -> compile_load(Forms, Slot);
        Err -> Err
    end.

%% load/3 for a module already in forms (a child bred in this VM): the export
%% check and the safety scan, then compile (without erl_lint when Linted:
%% the forms passed it already) and load.
-spec load_forms(petri_wire:spec(), forms(), boolean(), module()) -> ok | error().
load_forms(Spec, Forms0, Linted, Slot) ->
    case check(Spec, Forms0) of
        {ok, Forms} -> compile_load(Forms, Slot, Linted);
        Err -> Err
    end.

%% Everything that does not depend on the slot: parse, export check, safety.
-spec prepare(petri_wire:spec(), binary()) -> {ok, forms()} | error().
prepare(Spec, Source) ->
    Parsed = case petri_spec:language(Spec) of
                 erlang -> parse(Source);
                 elixir ->
                     case petri_elixir:to_forms(Spec, Source) of
                         {ok, ExForms} -> fun_cap(ExForms);
                         ExErr -> ExErr
                     end;
                 unknown -> {error, unsupported, <<"unknown genome language">>}
             end,
    case Parsed of
        {ok, Forms} -> check(Spec, Forms);
        Err -> Err
    end.

-spec check(petri_wire:spec(), forms()) -> {ok, forms()} | error().
check(Spec, Forms) ->
    F = petri_spec:function(Spec),
    A = petri_spec:arity(Spec),
    Exports = lists:append([Es || {attribute, _, export, Es} <- Forms]),
    case lists:member({F, A}, Exports) of
        false -> err(compile_error, "function ~p/~b is not exported", [F, A]);
        true ->
            %% the spec's own cases (integers of 64 bits at most) are the
            %% only arguments unless an evaluator module calls the genome
            Small = petri_spec:evaluator(Spec) =:= none andalso has_cases(Spec),
            case petri_safety:scan(Forms, #{small_args => Small}) of
                {ok, Rewritten} -> {ok, Rewritten};
                {error, Why} -> {error, unsafe, Why}
            end
    end.

-spec has_cases(petri_wire:spec()) -> boolean().
has_cases(Spec) ->
    petri_spec:cases(Spec) =/= [] orelse petri_spec:term_cases(Spec) =/= none.

%% Source text -> forms, with every cap applied. Used for parents in breeding too.
-spec parse(binary()) -> {ok, forms()} | error().
parse(Source) when byte_size(Source) > ?MAX_SOURCE ->
    err(parse_error, "source is ~b bytes, limit ~b", [byte_size(Source), ?MAX_SOURCE]);
parse(Source) ->
    case unicode:characters_to_list(Source, utf8) of
        Chars when is_list(Chars) -> parse_chars(Chars);
        _ -> err(parse_error, "source is not valid UTF-8", [])
    end.

-spec parse_chars(string()) -> {ok, forms()} | error().
parse_chars(Chars) ->
    case new_atoms(Chars) of
        N when N > ?MAX_NEW_ATOMS ->
            err(parse_error, "source would create ~b new atoms, limit ~b", [N, ?MAX_NEW_ATOMS]);
        _ ->
            %% Atom tokens become atoms here; new_atoms/1 bounded how many.
            case erl_scan:string(Chars, 1) of
                {ok, Toks, _} when length(Toks) > ?MAX_TOKENS ->
                    err(parse_error, "source has ~b tokens, limit ~b", [length(Toks), ?MAX_TOKENS]);
                {ok, Toks, _} ->
                    case parse_forms(Toks, [], []) of
                        {ok, Forms} ->
                            %% every fun has a `fun` token, every comprehension
                            %% a `||`: few of those, no need to walk the tree
                            case length([T || {K, _} = T <- Toks, K =:= 'fun' orelse K =:= '||'])
                                     =< ?MAX_FUNS of
                                true -> {ok, Forms};
                                false -> fun_cap(Forms)
                            end;
                        Err -> Err
                    end;
                {error, {L, M, D}, _} -> err(parse_error, "line ~s: ~s", [loc(L), M:format_error(D)])
            end
    end.

-spec fun_cap(forms()) -> {ok, forms()} | error().
fun_cap(Forms) ->
    case petri_safety:fun_count(Forms) of
        N when N > ?MAX_FUNS ->
            err(parse_error, "source has ~b funs and comprehensions, limit ~b", [N, ?MAX_FUNS]);
        _ -> {ok, Forms}
    end.

-spec parse_forms([erl_scan:token()], [erl_scan:token()], forms()) -> {ok, forms()} | error().
parse_forms([], [], Forms) ->
    filter(lists:reverse(Forms), [], false);
parse_forms([], _, _) ->
    err(parse_error, "missing final dot", []);
parse_forms([{dot, _} = D | T], Acc, Forms) ->
    case erl_parse:parse_form(lists:reverse([D | Acc])) of
        {ok, F} ->
            case depth(F) of
                Dp when Dp > ?MAX_DEPTH ->
                    err(parse_error, "line ~s: tree depth exceeds ~b", [loc(element(2, F)), ?MAX_DEPTH]);
                _ -> parse_forms(T, [], [F | Forms])
            end;
        {error, {L, M, Desc}} -> err(parse_error, "line ~s: ~s", [loc(L), M:format_error(Desc)])
    end;
parse_forms([Tok | T], Acc, Forms) ->
    parse_forms(T, [Tok | Acc], Forms).

-spec filter(forms(), forms(), boolean()) -> {ok, forms()} | error().
%% Keeps -module/-export/functions, drops type-level attributes, rejects the rest.
filter([], Acc, true) -> {ok, lists:reverse(Acc)};
filter([], _, false) -> err(parse_error, "no -module attribute", []);
filter([{attribute, L, module, M} = F | T], Acc, Seen) ->
    case {Seen, is_atom(M)} of
        {false, true} -> filter(T, [F | Acc], true);
        {true, _} -> err(parse_error, "line ~s: second -module attribute", [loc(L)]);
        {_, false} -> err(parse_error, "line ~s: parameterized modules are not supported", [loc(L)])
    end;
filter([{attribute, _, export, _} = F | T], Acc, Seen) ->
    filter(T, [F | Acc], Seen);
filter([{attribute, _, A, _} | T], Acc, Seen)
  when A =:= spec; A =:= type; A =:= opaque; A =:= export_type; A =:= file ->
    filter(T, Acc, Seen);
filter([{attribute, L, A, _} | _], _, _) ->
    err(unsafe, "line ~s: attribute -~p is not allowed", [loc(L), A]);
filter([{function, _, _, _, _} = F | T], Acc, Seen) ->
    filter(T, [F | Acc], Seen);
filter([F | _], _, _) ->
    err(parse_error, "line ~s: unsupported form", [loc(element(2, F))]).

-spec depth(term()) -> non_neg_integer().
%% Nesting depth of a form; list spines (and cons tails) do not add depth.
depth({cons, _, H, T}) -> max(1 + depth(H), depth(T));
depth(T) when is_tuple(T) -> 1 + lists:max([0 | [depth(E) || E <- tl(tuple_to_list(T))]]);
depth(L) when is_list(L) -> lists:max([0 | [depth(E) || E <- L]]);
depth(_) -> 0.

%% Renames the module to Slot, compiles and loads it.
-spec compile_load(forms(), module()) -> ok | error().
compile_load(Forms, Slot) ->
    compile_load(Forms, Slot, false).

-spec compile_load(forms(), module(), boolean()) -> ok | error().
compile_load(Forms, Slot, Linted) ->
    case compile(Forms, Slot, Linted) of
        {ok, Bin} -> load_binary(Slot, Bin);
        Err -> Err
    end.

%% Renames the module to Slot and compiles it to a .beam binary (not loaded).
-spec compile(forms(), module()) -> {ok, binary()} | error().
compile(Forms, Slot) ->
    compile(Forms, Slot, false).

%% compile/2; Linted: skip erl_lint, the forms passed it (as another module).
-spec compile(forms(), module(), boolean()) -> {ok, binary()} | error().
compile(Forms0, Slot, Linted) ->
    Forms = rename(Forms0, Slot),
    with_lock(fun() ->
                      A0 = erlang:system_info(atom_count),
                      Res = compile_forms(Forms, Slot, Linted),
                      Created = erlang:system_info(atom_count) - A0,
                      case Res of
                          {ok, _} when Created > ?MAX_CREATED_ATOMS ->
                              err(unsafe, "compiling created ~b atoms, limit ~b", [Created, ?MAX_CREATED_ATOMS]);
                          {ok, Bin} ->
                              case petri_safety:check_beam(Bin) of
                                  ok -> {ok, Bin};
                                  {error, Why} -> {error, unsafe, Why}
                              end;
                          Err -> Err
                      end
              end).

%% The cap on atoms one genome's compilation may create.
-spec atom_cap() -> pos_integer().
atom_cap() -> ?MAX_CREATED_ATOMS.

-spec compile_forms(forms(), module(), boolean()) -> {ok, binary()} | error().
compile_forms(Forms, Slot, Linted) ->
    case fast_compile(Forms, Linted) of
        {ok, Bin} -> {ok, Bin};
        fallback ->
            case compile:forms(Forms, ?COMPILE_OPTS) of
                {ok, Slot, Bin} -> {ok, Bin};
                {ok, Slot, Bin, _Warnings} -> {ok, Bin};
                {error, Errors, _Warnings} -> {error, compile_error, format_error(Errors)};
                error -> err(compile_error, "compilation failed", [])
            end
    end.

%% The compiler's own passes for ?COMPILE_OPTS on OTP 25 (compile:forms/2
%% with them runs lint, expand_records, core, sys_core_bsm, v3_kernel,
%% beam_kernel_to_ssa, beam_ssa_throw, beam_ssa_pre_codegen, beam_ssa_codegen,
%% beam_validator (strong), beam_a, the post-optimisations, beam_z,
%% beam_validator (weak), beam_asm), without the validators, beam_ssa_throw
%% and the post-optimisations, and with module_info/0,1 dropped. The .beam has
%% no Dbgi and no compile-info chunks, which nothing reads for a slot.
-spec fast_compile(forms(), boolean()) -> {ok, binary()} | fallback.
fast_compile(Forms, Linted) ->
    case erlang:system_info(otp_release) of
        "25" ->
            Opts = [no_postopt, no_throw_opt | ?COMPILE_OPTS],
            try
                Linted orelse ({ok, _} = erl_lint:module(Forms, "", Opts)),
                Expanded = erl_expand_records:module(Forms, Opts),
                {ok, Core, _} = v3_core:module(Expanded, Opts),
                {ok, Core2} = sys_core_bsm:module(Core, Opts),
                {ok, Kernel, _} = v3_kernel:module(Core2, Opts),
                {ok, Ssa} = beam_kernel_to_ssa:module(Kernel, Opts),
                {ok, Ssa2} = beam_ssa_pre_codegen:module(Ssa, Opts),
                {ok, Asm} = beam_ssa_codegen:module(Ssa2, Opts),
                {ok, Asm2} = beam_a:module(Asm, Opts),
                {ok, Asm3} = beam_clean:module(Asm2, Opts),
                {ok, Asm4} = beam_z:module(Asm3, Opts),
                {ok, Bin} = beam_asm:module(strip_module_info(Asm4), [], [], Opts),
                true = is_binary(Bin),
                {ok, Bin}
            catch
                _:_ -> fallback
            end;
        _ ->
            fallback
    end.

%% Drops module_info/0,1, which the compiler adds to every module and nothing
%% calls on a slot. Every code load copies the runtime's export table, so its
%% cost grows with the number of exports of all loaded modules: with 10,000
%% live slots, one export per slot instead of three makes a load ~4x cheaper
%% (tests/bench/bench_sandboxes.py).
-spec strip_module_info(tuple()) -> tuple().
strip_module_info({Mod, Exports, Attrs, Code, NumLabels}) ->
    {Mod, [E || {F, _} = E <- Exports, F =/= module_info], Attrs,
     [C || C <- Code, element(2, C) =/= module_info], NumLabels}.

%% Runs Fun holding the VM-wide loader lock (invariant 6).
-spec with_lock(fun(() -> T)) -> T.
with_lock(Fun) ->
    Pid = lock_pid(),
    MRef = erlang:monitor(process, Pid),
    Pid ! {lock, self(), MRef},
    receive
        {MRef, granted} ->
            try Fun()
            after
                Pid ! {unlock, MRef},
                erlang:demonitor(MRef, [flush])
            end;
        {'DOWN', MRef, process, Pid, _} ->
            with_lock(Fun)
    end.

-spec lock_pid() -> pid().
lock_pid() ->
    case whereis(?LOCK) of
        undefined ->
            Pid = spawn(fun lock_init/0),
            try register(?LOCK, Pid) of
                true -> Pid
            catch
                error:badarg -> exit(Pid, kill), lock_pid()
            end;
        Pid -> Pid
    end.

%% The lock process compiles one module of every construct before it grants
%% anything: the compiler's passes and the allowlisted modules are loaded
%% then, so their atoms are not counted against the first genome.
-spec lock_init() -> no_return().
lock_init() ->
    %% a failure here only means that the first genome pays for the loading
    try warm() catch _:_ -> ok end,
    lock_free().

%% Loads the allowlisted modules, what trusted code running next to a
%% compilation loads on demand (formatting details, beam_lib), and the
%% compiler's passes (by compiling one module of every construct). Elixir
%% warms up at the first Elixir genome (petri_elixir:warm/0), so VMs that
%% only see Erlang genomes do not pay for it.
-spec warm() -> ok.
warm() ->
    Trusted = [petri_std, petri_eval, io_lib, io_lib_format, io_lib_pretty, beam_lib,
               beam_disasm, beam_opcodes, beam_dict, erl_internal, erl_anno, erl_lint, compile],
    %% Elixir's modules are left to petri_elixir:warm/0: loaded, their
    %% exports would make every code load of an Erlang-only VM dearer
    Erlang = [M || {M, _} <- petri_safety:allowlist(), not lists:prefix("Elixir.", atom_to_list(M))],
    _ = [code:ensure_loaded(M) || M <- Trusted ++ Erlang],
    _ = io_lib:format("~p ~s ~0P ~ts", [[a], "b", {c}, 4, <<"d">>]),
    Src = <<"-module(petri_warm).\n-export([f/1]).\n"
            "f(X) -> Y = [Z * X || Z <- [X]], B = << <<C>> || <<C>> <= <<\"ab\">> >>,\n"
            "  G = fun(V) -> V + 1 end, M = #{a => X},\n"
            "  try {G(X), maps:get(a, M), <<B/binary, X:8>>, Y, X bsl X, 2.0 * X}\n"
            "  catch error:R -> R end.\n">>,
    {ok, Forms} = parse(Src),
    {ok, Checked} = petri_safety:scan(Forms),
    {ok, _} = compile_forms(rename(Checked, petri_warm), petri_warm, false),
    ok.

-spec lock_free() -> no_return().
lock_free() ->
    receive
        {lock, From, Ref} ->
            Mon = erlang:monitor(process, From),
            From ! {Ref, granted},
            lock_held(Ref, Mon)
    end.

-spec lock_held(reference(), reference()) -> no_return().
lock_held(Ref, Mon) ->
    receive
        {unlock, Ref} -> erlang:demonitor(Mon, [flush]), lock_free();
        {'DOWN', Mon, process, _, _} -> lock_free()
    end.

-spec load_binary(module(), binary()) -> ok | error().
load_binary(Slot, Bin) ->
    case erlang:load_module(Slot, Bin) of
        {module, Slot} -> ok;
        {error, _} ->
            %% not_purged (old code still there) and the like: code_server
            %% soft-purges unused old code and reports the real error
            case code:load_binary(Slot, atom_to_list(Slot), Bin) of
                {module, Slot} -> ok;
                {error, Why} -> err(internal, "loading ~p failed: ~p", [Slot, Why])
            end
    end.

-spec rename(forms(), module()) -> forms().
rename(Forms, Slot) ->
    [case F of
         {attribute, L, module, _} -> {attribute, L, module, Slot};
         _ -> F
     end || F <- Forms].

%% The first compiler error as "line L: text".
-spec format_error([{term(), [{term(), module(), term()}]}]) -> binary().
format_error([{_File, [{Loc, Mod, Desc} | _]} | _]) ->
    iolist_to_binary(io_lib:format("line ~s: ~s", [loc(Loc), Mod:format_error(Desc)]));
format_error([{_File, []} | T]) ->
    format_error(T);
format_error(_) ->
    <<"compilation failed">>.

-spec loc(term()) -> string().
loc({L, _Col}) when is_integer(L) -> integer_to_list(L);
loc(L) when is_integer(L) -> integer_to_list(L);
loc(Anno) ->
    try integer_to_list(erl_anno:line(Anno)) catch _:_ -> "?" end.

-spec err(petri_wire:status(), io:format(), [term()]) -> error().
err(Status, Fmt, Args) ->
    {error, Status, iolist_to_binary(io_lib:format(Fmt, Args))}.

%% ---- the atom guard -----------------------------------------------------------

-spec new_atoms(string()) -> non_neg_integer().
%% Counts the distinct identifiers and quoted atoms of the source that are not
%% atoms yet, without creating any. Over-counting is harmless (stricter cap).
new_atoms(Chars) ->
    length(lists:usort([N || N <- idents(Chars, []), not exists(N)])).

-spec exists(string() | {escaped, string()}) -> boolean().
exists({escaped, _}) ->
    false;
exists(Name) ->
    try
        _ = binary_to_existing_atom(unicode:characters_to_binary(Name), utf8),
        true
    catch
        _:_ -> false
    end.

-spec idents(string(), [ident()]) -> [ident()].
idents([], Acc) -> Acc;
idents([$% | T], Acc) -> idents(skip_line(T), Acc);
idents([$" | T], Acc) -> idents(skip_quoted($", T), Acc);
idents([$$, $\\, _ | T], Acc) -> idents(T, Acc);
idents([$$, _ | T], Acc) -> idents(T, Acc);
idents([$' | T], Acc) ->
    {Name, Rest} = quoted(T, []),
    idents(Rest, [Name | Acc]);
idents([C | _] = L, Acc) when C >= $0, C =< $9 ->
    idents(skip_number(L), Acc);
idents([C | _] = L, Acc) ->
    case ident_char(C) of
        true ->
            {Name, Rest} = lists:splitwith(fun ident_char/1, L),
            idents(Rest, [Name | Acc]);
        false ->
            idents(tl(L), Acc)
    end.

-spec ident_char(char()) -> boolean().
ident_char(C) ->
    (C >= $a andalso C =< $z) orelse (C >= $A andalso C =< $Z) orelse
        (C >= $0 andalso C =< $9) orelse C =:= $_ orelse C =:= $@ orelse C >= 16#C0.

-spec skip_line(string()) -> string().
skip_line([$\n | T]) -> T;
skip_line([_ | T]) -> skip_line(T);
skip_line([]) -> [].

-spec skip_quoted(char(), string()) -> string().
skip_quoted(Q, [$\\, _ | T]) -> skip_quoted(Q, T);
skip_quoted(Q, [Q | T]) -> T;
skip_quoted(Q, [_ | T]) -> skip_quoted(Q, T);
skip_quoted(_, []) -> [].

-spec quoted(string(), string()) -> {ident(), string()}.
%% A quoted atom with an escape sequence is always counted as new.
quoted([$\\ | _] = T, Acc) -> quoted_raw(T, Acc);
quoted([$' | T], Acc) -> {lists:reverse(Acc), T};
quoted([C | T], Acc) -> quoted(T, [C | Acc]);
quoted([], Acc) -> {lists:reverse(Acc), []}.

-spec quoted_raw(string(), string()) -> {ident(), string()}.
quoted_raw([$\\, C | T], Acc) -> quoted_raw(T, [C, $\\ | Acc]);
quoted_raw([$' | T], Acc) -> {{escaped, lists:reverse(Acc)}, T};
quoted_raw([C | T], Acc) -> quoted_raw(T, [C | Acc]);
quoted_raw([], Acc) -> {{escaped, lists:reverse(Acc)}, []}.

-spec skip_number(string()) -> string().
%% Skips a number exactly as erl_scan reads it, never further: letters that
%% erl_scan would turn into an atom after a number must be counted.
skip_number(L) ->
    {Digits, Rest} = lists:splitwith(fun(C) -> (C >= $0 andalso C =< $9) orelse C =:= $_ end, L),
    case Rest of
        [$# | T] ->
            case catch list_to_integer([D || D <- Digits, D =/= $_]) of
                B when is_integer(B), B >= 2, B =< 36 ->
                    lists:dropwhile(fun(C) -> digit_value(C) < B orelse C =:= $_ end, T);
                _ -> Rest
            end;
        [$., D | T] when D >= $0, D =< $9 ->
            exponent(lists:dropwhile(fun(C) -> (C >= $0 andalso C =< $9) orelse C =:= $_ end, T));
        _ -> Rest
    end.

-spec exponent(string()) -> string().
exponent([E | T] = L) when E =:= $e; E =:= $E ->
    T2 = case T of [S | T1] when S =:= $+; S =:= $- -> T1; _ -> T end,
    case T2 of
        [D | _] when D >= $0, D =< $9 -> lists:dropwhile(fun(C) -> C >= $0 andalso C =< $9 end, T2);
        _ -> L
    end;
exponent(L) -> L.

-spec digit_value(char()) -> non_neg_integer().
digit_value(C) when C >= $0, C =< $9 -> C - $0;
digit_value(C) when C >= $a, C =< $z -> C - $a + 10;
digit_value(C) when C >= $A, C =< $Z -> C - $A + 10;
digit_value(_) -> 99.
