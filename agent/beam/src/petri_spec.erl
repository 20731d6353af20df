%% petri_spec - helpers over a decoded SPEC (petri_wire:spec()): validation,
%% defaults for zero limits, and the parsed primitive set.
%% A spec comes from the agent (trusted), so its names may become atoms.
-module(petri_spec).

-export([validate/1, function/1, arity/1, language/1, timeout_ms/1, heap_words/1,
         reductions/1, cases/1, error_kind/1, vars/1, primitives/1, new/1,
         term_cases/1, float_tol/1, mismatch_error/1, evaluator/1, cost/1, per_case/1,
         split_tuples/1,
         signatures/1, prim_arity/1]).
-export_type([prim/0, cost/0, typed/0]).

%% Defaults used when a limit in the spec is 0.
-define(DEFAULT_TIMEOUT_MS, 1000).      % a genome scores 21 cases in microseconds
-define(DEFAULT_HEAP_WORDS, 1000000).   % 8 MB on 64-bit, ample for arithmetic genomes
-define(MIN_HEAP_WORDS, 1000).          % below the initial heap, spawn_opt fails
-define(MAX_NAME, 255).

-type prim() :: {binop, atom()} | {unop, atom()} | {fn, atom() | none, atom(), non_neg_integer()}
              | {lit, tuple()}    % a literal (its erl_parse tree), typed sets only
              | {form, form()}.   % a construct of several nodes (form_sig/1), typed sets only
%% The forms: if is case C of true -> X; false -> Y end; the others are the
%% list instructions of PushGP's vector and string stacks written with the
%% list functions (petri_gen:node/3 builds them): replace(A, B, L) is
%% lists:map(fun(V) -> case V == A of true -> B; false -> V end end, L),
%% indexof(A, L) length(lists:takewhile(fun(V) -> not (V == A) end, L))
%% (length(L) when no element is A), occurrences(A, L)
%% length(lists:filter(fun(V) -> V == A end, L)) and remove(A, L)
%% lists:filter(fun(V) -> not (V == A) end, L).
-type form() :: 'if' | replace | indexof | occurrences | remove.
%% A typed primitive set: the entry function's signature and each primitive's.
-type typed() :: {petri_types:sig(), [{prim(), petri_types:sig()}]}.
%% The cost objective: mode and the weights of reductions, peak heap words, eval us.
-type cost() :: {none | lexicographic | weighted, {float(), float(), float()}}.

-define(T, {tv, <<"T">>}).

-define(MAX_EVALUATOR, 1048576).   % bytes of an evaluator module's source

%% Binary operators a primitive set may name.
-define(BINOPS, [<<"+">>, <<"-">>, <<"*">>, <<"/">>, <<"div">>, <<"rem">>,
                 <<"band">>, <<"bor">>, <<"bxor">>]).

%% A spec with every field defaulted, overridden by Fields (used by tests and tools).
-spec new(map()) -> petri_wire:spec().
new(Fields) ->
    maps:merge(#{function => <<"f">>, arity => 1, language => 0, timeout_ms => 0,
                 heap_words => 0, reductions => 0, vars => [<<"X">>],
                 ops => [<<"+">>, <<"-">>, <<"*">>], const_min => -5.0, const_max => 5.0,
                 const_int => true, error => 0, cases => [], term_cases => none, atoms => [],
                 float_tol => 0.0, mismatch_error => 1.0, evaluator => <<>>,
                 evaluator_lang => 0, cost_mode => 0, cost_w => {0.0, 0.0, 0.0},
                 per_case => false, split_tuples => false}, Fields).

%% Checks what the evaluator and the breeder rely on. Returns a detail text.
-spec validate(petri_wire:spec()) -> ok | {error, binary()}.
validate(#{function := Fn, arity := Ar, language := Lang, error := Err, cases := Cases,
           vars := Vars} = Spec) ->
    BadCase = [I || {I, {In, _}} <- lists:zip(lists:seq(1, length(Cases)), Cases),
                    length(In) =/= Ar],
    case validate_ext(Spec) of
        ok -> validate_base(Fn, Ar, Lang, Err, Vars, BadCase);
        Bad -> Bad
    end.

%% The appended fields (wire.h: term cases, evaluator, cost, per_case).
-spec validate_ext(petri_wire:spec()) -> ok | {error, binary()}.
validate_ext(Spec) ->
    Tol = maps:get(float_tol, Spec, 0.0),
    Mis = maps:get(mismatch_error, Spec, 1.0),
    {WR, WH, WT} = maps:get(cost_w, Spec, {0.0, 0.0, 0.0}),
    EvLang = maps:get(evaluator_lang, Spec, 0),
    Ev = maps:get(evaluator, Spec, <<>>),
    Mode = maps:get(cost_mode, Spec, 0),
    case maps:get(term_cases, Spec, none) of
        {error, Why} -> {error, <<"spec: ", Why/binary>>};
        {ok, _} when map_get(cases, Spec) =/= [] ->
            {error, <<"spec: both numeric and term cases">>};
        _ when Tol < 0 -> fmt("spec: float_tol ~p is negative", [Tol]);
        _ when Mis < 0 -> fmt("spec: mismatch_error ~p is negative", [Mis]);
        _ when Mode > 2 -> fmt("spec: unknown cost mode ~b", [Mode]);
        _ when WR < 0; WH < 0; WT < 0 -> {error, <<"spec: a cost weight is negative">>};
        _ when EvLang > 1 -> fmt("spec: unknown evaluator language ~b", [EvLang]);
        _ when byte_size(Ev) > ?MAX_EVALUATOR ->
            fmt("spec: evaluator is ~b bytes, limit ~b", [byte_size(Ev), ?MAX_EVALUATOR]);
        _ -> ok
    end.

-spec validate_base(term(), non_neg_integer(), non_neg_integer(), non_neg_integer(), [binary()],
                    [pos_integer()]) -> ok | {error, binary()}.
validate_base(Fn, Ar, Lang, Err, Vars, BadCase) ->
    if
        not is_binary(Fn) -> {error, <<"spec: bad function name">>};
        Lang > 1 -> fmt("spec: unknown language ~b", [Lang]);
        Err > 2 -> fmt("spec: unknown error measure ~b", [Err]);
        Ar > 255 -> fmt("spec: arity ~b is too large", [Ar]);
        Vars =/= [], length(Vars) =/= Ar ->
            fmt("spec: ~b vars for arity ~b", [length(Vars), Ar]);
        BadCase =/= [] -> fmt("spec: case ~b does not have ~b inputs", [hd(BadCase), Ar]);
        true ->
            case valid_name(Fn) of
                true -> ok;
                false -> fmt("spec: function name ~p is not a plain atom", [Fn])
            end
    end.

-spec valid_name(binary()) -> boolean().
valid_name(<<C, Rest/binary>>) when C >= $a, C =< $z, byte_size(Rest) < ?MAX_NAME ->
    lists:all(fun(X) -> (X >= $a andalso X =< $z) orelse (X >= $A andalso X =< $Z)
                            orelse (X >= $0 andalso X =< $9) orelse X =:= $_ end,
              binary_to_list(Rest));
valid_name(_) ->
    false.

%% Elixir.Seg[.Seg...], each segment an alias (String, Integer, String.Chars).
-spec elixir_module(binary()) -> boolean().
elixir_module(<<"Elixir.", Rest/binary>>) when byte_size(Rest) < ?MAX_NAME ->
    lists:all(fun(<<C, Seg/binary>>) when C >= $A, C =< $Z ->
                      valid_name(<<$a, Seg/binary>>);
                 (_) -> false
              end, binary:split(Rest, <<".">>, [global]));
elixir_module(_) ->
    false.

%% The function name as an atom. The spec is trusted; validate/1 bounds it.
-spec function(petri_wire:spec()) -> atom().
function(#{function := Fn}) -> binary_to_atom(Fn, utf8).

-spec arity(petri_wire:spec()) -> non_neg_integer().
arity(#{arity := A}) -> A.

-spec language(petri_wire:spec()) -> erlang | elixir | unknown.
language(#{language := 0}) -> erlang;
language(#{language := 1}) -> elixir;
language(_) -> unknown.

-spec timeout_ms(petri_wire:spec()) -> pos_integer().
timeout_ms(#{timeout_ms := 0}) -> ?DEFAULT_TIMEOUT_MS;
timeout_ms(#{timeout_ms := T}) -> T.

-spec heap_words(petri_wire:spec()) -> pos_integer().
heap_words(#{heap_words := 0}) -> ?DEFAULT_HEAP_WORDS;
heap_words(#{heap_words := H}) -> max(H, ?MIN_HEAP_WORDS).

%% 0 = no reduction budget (the wall-clock deadline still applies).
-spec reductions(petri_wire:spec()) -> non_neg_integer().
reductions(#{reductions := R}) -> R.

-spec cases(petri_wire:spec()) -> [petri_wire:fcase()].
cases(#{cases := C}) -> C.

%% The term cases, or none when the numeric cases (or an evaluator) score.
-spec term_cases(petri_wire:spec()) -> none | [petri_wire:tcase()].
term_cases(Spec) ->
    case maps:get(term_cases, Spec, none) of
        {ok, Cases} -> Cases;
        _ -> none
    end.

-spec float_tol(petri_wire:spec()) -> float().
float_tol(Spec) -> maps:get(float_tol, Spec, 0.0).

-spec mismatch_error(petri_wire:spec()) -> float().
mismatch_error(Spec) -> maps:get(mismatch_error, Spec, 1.0).

%% The operator's evaluator module: none, or {erlang | elixir, Source}.
-spec evaluator(petri_wire:spec()) -> none | {erlang | elixir, binary()}.
evaluator(Spec) ->
    case maps:get(evaluator, Spec, <<>>) of
        <<>> -> none;
        Src when map_get(evaluator_lang, Spec) =:= 1 -> {elixir, Src};
        Src -> {erlang, Src}
    end.

-spec cost(petri_wire:spec()) -> cost().
cost(Spec) ->
    W = maps:get(cost_w, Spec, {0.0, 0.0, 0.0}),
    case maps:get(cost_mode, Spec, 0) of
        1 -> {lexicographic, W};
        2 -> {weighted, W};
        _ -> {none, W}
    end.

-spec per_case(petri_wire:spec()) -> boolean().
per_case(Spec) -> maps:get(per_case, Spec, false).

%% Whether a term case expecting a tuple gives one error per element.
-spec split_tuples(petri_wire:spec()) -> boolean().
split_tuples(Spec) -> maps:get(split_tuples, Spec, false).

%% abs and square: the distance of numbers; edit adds the edit distance of
%% lists, binaries and tuples (petri_eval:distance/4).
-spec error_kind(petri_wire:spec()) -> abs | square | edit.
error_kind(#{error := 1}) -> square;
error_kind(#{error := 2}) -> edit;
error_kind(_) -> abs.

%% Variable names as atoms (trusted spec input).
-spec vars(petri_wire:spec()) -> [atom()].
vars(#{vars := Vars}) -> [binary_to_atom(V, utf8) || V <- Vars].

%% Parses the primitive set: "+" etc., "name/arity", "mod:name/arity".
-spec primitives(petri_wire:spec()) -> {ok, [prim()]} | {error, binary()}.
primitives(#{ops := Ops}) ->
    prims(Ops, []).

-spec prims([binary()], [prim()]) -> {ok, [prim()]} | {error, binary()}.
prims([], Acc) -> {ok, lists:reverse(Acc)};
prims([Op | T], Acc) ->
    case prim(Op) of
        {ok, P} -> prims(T, [P | Acc]);
        error -> fmt("spec: bad primitive ~p", [Op])
    end.

-spec prim(binary()) -> {ok, prim()} | error.
prim(Op) ->
    case lists:member(Op, ?BINOPS) of
        true -> {ok, {binop, binary_to_atom(Op, utf8)}};
        false -> prim_fn(Op)
    end.

-spec prim_fn(binary()) -> {ok, prim()} | error.
prim_fn(Op) ->
    case binary:split(Op, <<"/">>) of
        [Name, ArB] ->
            case {catch binary_to_integer(ArB), binary:split(Name, <<":">>)} of
                {Ar, [F]} when is_integer(Ar), Ar >= 0, Ar =< 8 ->
                    name_ok({fn, none, F, Ar});
                {Ar, [M, F]} when is_integer(Ar), Ar >= 0, Ar =< 8 ->
                    name_ok({fn, M, F, Ar});
                _ -> error
            end;
        _ -> error
    end.

%% A function is a plain atom; its module a plain atom or an Elixir module
%% ("Elixir.Integer:mod/2": Elixir's floored modulo, PushGP's integer_mod).
-spec name_ok({fn, binary() | none, binary(), non_neg_integer()}) -> {ok, prim()} | error.
name_ok({fn, M, F, Ar}) ->
    case valid_name(F) andalso (M =:= none orelse valid_name(M) orelse elixir_module(M)) of
        true ->
            MA = case M of none -> none; _ -> binary_to_atom(M, utf8) end,
            {ok, {fn, MA, binary_to_atom(F, utf8), Ar}};
        false -> error
    end.

%% The typed primitive set, or none when no op string carries a signature
%% (the numeric set of primitives/1). An op string is "NAME" or
%% "NAME :: A, B -> R" (petri_types); "types :: A, .. -> R" gives the entry
%% function's argument and result types (default: any). NAME is a binary
%% operator (arithmetic, comparison, boolean, ++, --), "not", "if" (the
%% conditional `case C of true -> X; false -> Y end`, default signature
%% bool, T, T -> T), a literal, or a function "name/arity" /
%% "mod:name/arity" that petri_safety:allowed/3 admits. A primitive without
%% a signature gets its operator's default one (any for a function).
-spec signatures(petri_wire:spec()) -> {ok, none | typed()} | {error, binary()}.
signatures(#{ops := Ops} = Spec) ->
    case lists:any(fun(Op) -> binary:match(Op, <<"::">>) =/= nomatch end, Ops) of
        false -> {ok, none};
        true -> typed_ops(Ops, arity(Spec), none, [])
    end.

-spec typed_ops([binary()], non_neg_integer(), none | petri_types:sig(),
                [{prim(), petri_types:sig()}]) -> {ok, typed()} | {error, binary()}.
typed_ops([], Ar, Entry, Acc) ->
    E = case Entry of
            none -> {lists:duplicate(Ar, any), any};
            _ -> Entry
        end,
    {ok, {E, lists:reverse(Acc)}};
typed_ops([Op | T], Ar, Entry, Acc) ->
    {Name, SigText} = case binary:split(Op, <<"::">>) of
                          [N, S] -> {string:trim(N), S};
                          [N] -> {string:trim(N), none}
                      end,
    Sig = case SigText of
              none -> none;
              _ -> petri_types:parse_sig(SigText)
          end,
    case {Name, Sig} of
        {_, error} -> fmt("spec: bad signature in primitive ~p", [Op]);
        {<<"types">>, none} -> fmt("spec: primitive ~p needs a signature", [Op]);
        {<<"types">>, {ok, {As, _} = E}} when length(As) =:= Ar, Entry =:= none ->
            typed_ops(T, Ar, E, Acc);
        {<<"types">>, _} ->
            fmt("spec: ~p must be given once, with ~b argument type(s)", [Op, Ar]);
        _ ->
            case typed_prim(Name) of
                {ok, P} ->
                    case check_sig(P, Sig) of
                        {ok, S2} -> typed_ops(T, Ar, Entry, [{P, S2} | Acc]);
                        error -> fmt("spec: signature of ~p has the wrong arity", [Op])
                    end;
                {error, Why} -> fmt("spec: primitive ~p: ~s", [Op, Why])
            end
    end.

-define(TBINOPS, [<<"==">>, <<"/=">>, <<"=<">>, <<"<">>, <<">=">>, <<">">>, <<"=:=">>,
                  <<"=/=">>, <<"and">>, <<"or">>, <<"xor">>, <<"andalso">>, <<"orelse">>,
                  <<"++">>, <<"--">>]).

-spec typed_prim(binary()) -> {ok, prim()} | {error, string()}.
typed_prim(<<"not">>) -> {ok, {unop, 'not'}};
typed_prim(<<"if">>) -> {ok, {form, 'if'}};
typed_prim(<<"replace">>) -> {ok, {form, replace}};
typed_prim(<<"indexof">>) -> {ok, {form, indexof}};
typed_prim(<<"occurrences">>) -> {ok, {form, occurrences}};
typed_prim(<<"remove">>) -> {ok, {form, remove}};
typed_prim(Name) ->
    case {lists:member(Name, ?BINOPS ++ ?TBINOPS), literal(Name)} of
        {true, _} -> {ok, {binop, binary_to_atom(Name, utf8)}};
        {false, {ok, Lit}} -> {ok, {lit, Lit}};
        {false, error} ->
            case prim_fn(Name) of
                {ok, {fn, M, F, A} = P} ->
                    case petri_safety:allowed(case M of none -> erlang; _ -> M end, F, A) of
                        true -> {ok, P};
                        false -> {error, "not a function genomes may call"}
                    end;
                _ -> {error, "not an operator or name/arity"}
            end
    end.

%% A literal op string: an integer, float, string, list, tuple, map or
%% binary of literals ("[]", "<<>>", "0", "[0]", "<<\"a\">>", "#{}"),
%% true, false, or a quoted atom ("'ok'": a bare word is a misspelt name).
-spec literal(binary()) -> {ok, tuple()} | error.
literal(Text) ->
    try
        {ok, Toks, _} = erl_scan:string(binary_to_list(Text) ++ "."),
        {ok, [E]} = erl_parse:parse_exprs(Toks),
        _ = erl_parse:normalise(E),   % throws unless a literal
        case E of
            {atom, _, A} when not is_boolean(A), binary_part(Text, 0, 1) =/= <<"'">> -> error;
            _ -> {ok, erl_parse:map_anno(fun(_) -> erl_anno:new(1) end, E)}
        end
    catch
        _:_ -> error
    end.

-spec check_sig(prim(), none | {ok, petri_types:sig()}) -> {ok, petri_types:sig()} | error.
check_sig(P, none) -> {ok, default_sig(P)};
check_sig(P, {ok, {As, _} = Sig}) ->
    case length(As) =:= prim_arity(P) of
        true -> {ok, Sig};
        false -> error
    end.

%% How many arguments a primitive takes.
-spec prim_arity(prim()) -> non_neg_integer().
prim_arity({binop, _}) -> 2;
prim_arity({unop, _}) -> 1;
prim_arity({lit, _}) -> 0;
prim_arity({form, F}) -> length(element(1, form_sig(F)));
prim_arity({fn, _, _, A}) -> A.

-spec default_sig(prim()) -> petri_types:sig().
default_sig({binop, Op}) when Op =:= '++'; Op =:= '--' ->
    {[{list, {tv, <<"T">>}}, {list, {tv, <<"T">>}}], {list, {tv, <<"T">>}}};
default_sig({binop, Op}) when Op =:= 'and'; Op =:= 'or'; Op =:= 'xor'; Op =:= 'andalso';
                              Op =:= 'orelse' ->
    {[bool, bool], bool};
default_sig({binop, '/'}) -> {[int, int], float};
default_sig({binop, Op}) ->
    case lists:member(atom_to_binary(Op, utf8), ?BINOPS) of
        true -> {[int, int], int};
        false -> {[{tv, <<"T">>}, {tv, <<"T">>}], bool}
    end;
default_sig({unop, _}) -> {[bool], bool};
default_sig({form, F}) -> form_sig(F);
default_sig({lit, E}) -> {[], lit_type(E)};
default_sig({fn, _, _, A}) -> {lists:duplicate(A, any), any}.

-spec form_sig(form()) -> petri_types:sig().
form_sig('if') -> {[bool, ?T, ?T], ?T};
form_sig(replace) -> {[?T, ?T, {list, ?T}], {list, ?T}};
form_sig(indexof) -> {[?T, {list, ?T}], int};
form_sig(occurrences) -> {[?T, {list, ?T}], int};
form_sig(remove) -> {[?T, {list, ?T}], {list, ?T}}.

-spec lit_type(tuple()) -> petri_types:type().
lit_type({integer, _, _}) -> int;
lit_type({char, _, _}) -> int;
lit_type({float, _, _}) -> float;
lit_type({op, _, '-', E}) -> lit_type(E);
lit_type({atom, _, B}) when is_boolean(B) -> bool;
lit_type({atom, _, _}) -> atom;
lit_type({string, _, _}) -> {list, int};
lit_type({nil, _}) -> {list, any};
lit_type({cons, _, H, _}) -> {list, lit_type(H)};
lit_type({bin, _, _}) -> binary;
lit_type({map, _, _}) -> map;
lit_type({tuple, _, Es}) -> {tuple, [lit_type(E) || E <- Es]};
lit_type(_) -> any.

-spec fmt(io:format(), [term()]) -> {error, binary()}.
fmt(F, A) -> {error, iolist_to_binary(io_lib:format(F, A))}.
