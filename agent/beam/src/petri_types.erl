%% petri_types - the small type language of typed primitive sets: parsing of
%% signatures ("list(T), int -> T"), unification with type variables, and
%% the types of pattern variables.
%%
%% Types: int, float, bool, atom, binary, map, tuple, any, list(T) (plain
%% "list" is list(any)), tuple(T1, .., Tn) (a tuple of n elements of those
%% types; plain "tuple" is any tuple and matches every one), fun(T1, .. -> R),
%% and type variables (a name that starts with an upper-case letter). any
%% matches every type and binds nothing: an any-typed place accepts any
%% expression.
-module(petri_types).

-compile({no_auto_import, [apply/2]}).
-export([parse_sig/1, parse_type/1, unify/3, apply/2, ground/1, fresh_sig/2, tvars/1,
         pattern_env/2, format/1, has_any/1]).
-export_type([type/0, sig/0, subst/0]).

-type type() :: int | float | bool | atom | binary | map | tuple | any
              | {list, type()} | {tuple, [type()]} | {fn, [type()], type()} | {tv, binary()}.
-type sig() :: {[type()], type()}.
-type subst() :: [{binary(), type()}].
-type token() :: {id, binary()} | '(' | ')' | ',' | '->'.

-define(BASE, [<<"int">>, <<"float">>, <<"bool">>, <<"atom">>, <<"binary">>, <<"map">>,
               <<"tuple">>, <<"any">>]).

%% "A, B -> R" (or "-> R" for no arguments).
-spec parse_sig(binary()) -> {ok, sig()} | error.
parse_sig(Text) ->
    try
        Toks = tokens(Text),
        {Args, Rest} = case Toks of
                           ['->' | _] -> {[], Toks};
                           _ -> types(Toks)
                       end,
        case Rest of
            ['->' | R1] ->
                {Res, []} = type(R1),
                {ok, {Args, Res}};
            _ -> error
        end
    catch
        _:_ -> error
    end.

-spec parse_type(binary()) -> {ok, type()} | error.
parse_type(Text) ->
    try
        {T, []} = type(tokens(Text)),
        {ok, T}
    catch
        _:_ -> error
    end.

-spec types([token()]) -> {[type()], [token()]}.
types(Toks) ->
    {T, Rest} = type(Toks),
    case Rest of
        [',' | R1] ->
            {Ts, R2} = types(R1),
            {[T | Ts], R2};
        _ -> {[T], Rest}
    end.

-spec type([token()]) -> {type(), [token()]}.
type([{id, <<"list">>}, '(' | R1]) ->
    {T, [')' | R2]} = type(R1),
    {{list, T}, R2};
type([{id, <<"list">>} | R]) -> {{list, any}, R};
type([{id, <<"tuple">>}, '(' | R1]) ->
    {Es, [')' | R2]} = types(R1),
    {{tuple, Es}, R2};
type([{id, <<"fun">>}, '(', '->' | R1]) ->
    {Res, [')' | R2]} = type(R1),
    {{fn, [], Res}, R2};
type([{id, <<"fun">>}, '(' | R1]) ->
    {Args, ['->' | R2]} = types(R1),
    {Res, [')' | R3]} = type(R2),
    {{fn, Args, Res}, R3};
type([{id, <<C, _/binary>> = N} | R]) when C >= $A, C =< $Z -> {{tv, N}, R};
type([{id, N} | R]) ->
    true = lists:member(N, ?BASE),
    {binary_to_atom(N, utf8), R}.

-spec tokens(binary()) -> [token()].
tokens(<<>>) -> [];
tokens(<<C, R/binary>>) when C =:= $\s; C =:= $\t -> tokens(R);
tokens(<<"->", R/binary>>) -> ['->' | tokens(R)];
tokens(<<"(", R/binary>>) -> ['(' | tokens(R)];
tokens(<<")", R/binary>>) -> [')' | tokens(R)];
tokens(<<",", R/binary>>) -> [',' | tokens(R)];
tokens(B) ->
    {Id, R} = ident(B, <<>>),
    <<_, _/binary>> = Id,
    [{id, Id} | tokens(R)].

-spec ident(binary(), binary()) -> {binary(), binary()}.
ident(<<C, R/binary>>, Acc) when C >= $a, C =< $z; C >= $A, C =< $Z; C >= $0, C =< $9; C =:= $_ ->
    ident(R, <<Acc/binary, C>>);
ident(R, Acc) -> {Acc, R}.

%% Unifies A with B under S. any matches all; type variables bind.
-spec unify(type(), type(), subst()) -> {ok, subst()} | error.
unify(A0, B0, S) ->
    case {walk(A0, S), walk(B0, S)} of
        {any, _} -> {ok, S};
        {_, any} -> {ok, S};
        {{tv, N}, {tv, N}} -> {ok, S};
        {{tv, N}, B} -> bind(N, B, S);
        {A, {tv, N}} -> bind(N, A, S);
        {{list, X}, {list, Y}} -> unify(X, Y, S);
        {{tuple, Xs}, {tuple, Ys}} when length(Xs) =:= length(Ys) -> unify_all(Xs, Ys, S);
        {tuple, {tuple, _}} -> {ok, S};
        {{tuple, _}, tuple} -> {ok, S};
        {{fn, As, R1}, {fn, Bs, R2}} when length(As) =:= length(Bs) ->
            unify_all([R1 | As], [R2 | Bs], S);
        {A, A} -> {ok, S};
        _ -> error
    end.

-spec unify_all([type()], [type()], subst()) -> {ok, subst()} | error.
unify_all([], [], S) -> {ok, S};
unify_all([A | As], [B | Bs], S) ->
    case unify(A, B, S) of
        {ok, S1} -> unify_all(As, Bs, S1);
        error -> error
    end.

-spec bind(binary(), type(), subst()) -> {ok, subst()} | error.
bind(N, T, S) ->
    case lists:member(N, tvars(apply(T, S))) of
        true -> error;
        false -> {ok, [{N, T} | S]}
    end.

-spec walk(type(), subst()) -> type().
walk({tv, N} = T, S) ->
    case lists:keyfind(N, 1, S) of
        {_, T2} -> walk(T2, S);
        false -> T
    end;
walk(T, _) -> T.

%% T with every bound type variable replaced.
-spec apply(type(), subst()) -> type().
apply(T, S) ->
    case walk(T, S) of
        {list, X} -> {list, apply(X, S)};
        {tuple, Xs} -> {tuple, [apply(X, S) || X <- Xs]};
        {fn, As, R} -> {fn, [apply(A, S) || A <- As], apply(R, S)};
        W -> W
    end.

%% Free type variables become any.
-spec ground(type()) -> type().
ground({tv, _}) -> any;
ground({list, X}) -> {list, ground(X)};
ground({tuple, Xs}) -> {tuple, [ground(X) || X <- Xs]};
ground({fn, As, R}) -> {fn, [ground(A) || A <- As], ground(R)};
ground(T) -> T.

%% Whether a type is not known all through ([] is list(any)): where an
%% expected type is at hand, it is the better one.
-spec has_any(type()) -> boolean().
has_any(any) -> true;
has_any({list, E}) -> has_any(E);
has_any({tuple, Es}) -> lists:any(fun has_any/1, Es);
has_any(_) -> false.

-spec tvars(type()) -> [binary()].
tvars({tv, N}) -> [N];
tvars({list, X}) -> tvars(X);
tvars({tuple, Xs}) -> lists:append([tvars(X) || X <- Xs]);
tvars({fn, As, R}) -> lists:append([tvars(T) || T <- [R | As]]);
tvars(_) -> [].

%% The signature with its type variables renamed apart (suffix Tag), so
%% that two uses of one signature do not share variables.
-spec fresh_sig(sig(), binary()) -> sig().
fresh_sig({As, R}, Tag) -> {[rename(A, Tag) || A <- As], rename(R, Tag)}.

-spec rename(type(), binary()) -> type().
rename({tv, N}, Tag) -> {tv, <<N/binary, "#", Tag/binary>>};
rename({list, X}, Tag) -> {list, rename(X, Tag)};
rename({tuple, Xs}, Tag) -> {tuple, [rename(X, Tag) || X <- Xs]};
rename({fn, As, R}, Tag) -> {fn, [rename(A, Tag) || A <- As], rename(R, Tag)};
rename(T, _) -> T.

%% The variables a pattern of type T binds, with their types.
-spec pattern_env(tuple(), type()) -> [{atom(), type()}].
pattern_env({var, _, '_'}, _) -> [];
pattern_env({var, _, V}, T) -> [{V, T}];
pattern_env({match, _, P1, P2}, T) -> pattern_env(P1, T) ++ pattern_env(P2, T);
pattern_env({cons, _, H, Tl}, {list, E} = T) -> pattern_env(H, E) ++ pattern_env(Tl, T);
pattern_env({cons, _, H, Tl}, _) -> pattern_env(H, any) ++ pattern_env(Tl, any);
pattern_env({tuple, _, Es}, {tuple, Ts}) when length(Es) =:= length(Ts) ->
    lists:append([pattern_env(E, T) || {E, T} <- lists:zip(Es, Ts)]);
pattern_env({tuple, _, Es}, _) -> lists:append([pattern_env(E, any) || E <- Es]);
pattern_env(_, _) -> [].

-spec format(type()) -> iodata().
format({list, T}) -> ["list(", format(T), ")"];
format({tuple, Ts}) -> ["tuple(", lists:join(", ", [format(T) || T <- Ts]), ")"];
format({fn, As, R}) -> ["fun(", lists:join(", ", [format(A) || A <- As]), " -> ", format(R), ")"];
format({tv, N}) -> N;
format(T) -> atom_to_list(T).
