%% petri_std - checked versions of the operations and standard-library
%% functions whose cost or output size a genome controls. The loader rewrites
%% a genome's calls (and its `*`, `bsl`, `bsr` and non-literal bit-syntax
%% sizes) to these; petri_safety:wrapped/3 names which. Each one checks its
%% arguments before doing any work and raises
%% error({petri_limit, What}) past a cap, which petri_eval reports as crash
%% with that detail.
%%
%% Invariants:
%%  1. Fast paths first: small integers and floats take one guard test and go
%%     straight to the operator, so numeric genomes run at the same speed.
%%  2. Integers stay under ?MAX_INT_BITS bits through multiplication, shifts
%%     and powers: bignum multiplication is one non-preemptible operation that
%%     would stall the VM's only scheduler. erlang:external_size/1 gives the
%%     size of a bignum without walking or copying it.
%%  3. Binaries over 64 bytes live outside the process heap, which the
%%     evaluator's heap watchdog does not see. So (a) no single wrapped
%%     operation produces more than ?MAX_BIN_BYTES, (b) the bytes of every
%%     binary over 64 bytes that a wrapped operation or a construction makes
%%     count against ?BIN_BUDGET per evaluation process (account/1; the
%%     budget lives in that process's dictionary, the only state that
%%     follows the genome's calls), and (c) the first such binary starts a
%%     watcher (guard/0) that kills the evaluation process when the binaries
%%     it holds exceed ?BIN_BUDGET (reported by the evaluator as heap_limit).
%%     A binary over 64 bytes can only come from these operations (the
%%     other allowed functions return binaries no larger than their
%%     arguments, or build them from the heap-bounded data these wrappers
%%     measure), so the watcher runs whenever one exists: it catches a
%%     genome that keeps many large results of plain functions
%%     (string:uppercase/1 of a large binary, over and over).
%%  4. Sizes of deep data are measured by walking it in Erlang (preemptible,
%%     counted in reductions), never by a BIF that would allocate first.
-module(petri_std).

-export([nfc_binary/1, nfd_binary/1, nfkc_binary/1, nfkd_binary/1, bin_seg/2, idiv/2, irem/2, iolist_size/1, decode_unsigned/1, decode_unsigned/2,
         ex_int_mod/2, ex_floor_div/2, mul/2, shl/2, shr/2, int_pow/2, pow/2, make_tuple/2, bin_size/2, guard/0, caps/0]).
-export([iolist_to_binary/1, list_to_binary/1, list_to_bitstring/1, characters_to_binary/1,
         characters_to_binary/2, characters_to_list/1, binary_copy/2, binary_replace/3,
         binary_replace/4, string_copies/2, lists_duplicate/2, lists_seq/2, lists_seq/3,
         integer_to_binary/1, integer_to_binary/2, integer_to_list/1, integer_to_list/2,
         binary_to_integer/1, binary_to_integer/2, list_to_integer/1, list_to_integer/2,
         ex_sort/2, ex_sort_by/3, ex_join/1, ex_join/2, ex_map_join/2, ex_map_join/3, ex_duplicate/2,
         ex_list_duplicate/2, ex_tuple_duplicate/2, ex_pad_leading/2, ex_pad_leading/3,
         ex_pad_trailing/2, ex_pad_trailing/3, ex_replace/3, ex_replace/4,
         ex_to_string/1, ex_int_to_string/1, ex_int_to_string/2, ex_str_to_integer/1,
         ex_str_to_integer/2, ex_int_parse/1, ex_int_parse/2, ex_int_digits/1,
         ex_int_digits/2, ex_list_to_string/1, ex_list_to_integer/1]).

-define(SMALL, 16#7FFFFFFF).          % |operand| below this: machine multiply
-define(MAX_INT_BITS, 65536).         % integers from *, bsl, pow stay under this
-define(MAX_BIN_BYTES, 16777216).     % one wrapped operation's output (16 MiB)
-define(MAX_LIST, 268435456).         % elements of a list built in one call
%% (lists:seq and lists:duplicate are preemptible Erlang code: the heap
%% watchdog stops them long before this, which only names absurd sizes)
-define(MAX_TUPLE, 16777216).         % a tuple is allocated at once
-define(MAX_DIGITS, 20000).           % text <-> integer conversions are quadratic
-define(MAX_DIV_WORDS, 4194304).      % (words of quotient) x (words of divisor)
-define(BIN_BUDGET, 268435456).       % binary bytes an evaluation may build (256 MiB)
-define(WATCH_MS, 1).
-define(WATCH_KEY, petri_std_watch).
-define(BYTES_KEY, petri_std_bytes).

%% The caps, for the documentation.
-spec caps() -> [{atom(), pos_integer()}].
caps() ->
    [{max_int_bits, ?MAX_INT_BITS}, {max_bin_bytes, ?MAX_BIN_BYTES},
     {max_list, ?MAX_LIST}, {max_tuple, ?MAX_TUPLE}, {max_digits, ?MAX_DIGITS}, {bin_budget, ?BIN_BUDGET}].

-spec limit(io:format(), [term()]) -> no_return().
limit(Fmt, Args) ->
    erlang:error({petri_limit, lists:flatten(io_lib:format(Fmt, Args))}).

%% ---- integers ---------------------------------------------------------------------

-spec mul(number(), number()) -> number().
mul(A, B) when is_integer(A), is_integer(B), A < ?SMALL, A > -?SMALL, B < ?SMALL, B > -?SMALL ->
    A * B;
mul(A, B) when is_float(A); is_float(B) ->
    A * B;
mul(A, B) when is_integer(A), is_integer(B) ->
    Bits = ibits(A) + ibits(B),
    Bits =< ?MAX_INT_BITS orelse limit("integer product of ~b bits exceeds ~b", [Bits, ?MAX_INT_BITS]),
    A * B;
mul(A, B) ->
    A * B.

-spec shl(integer(), integer()) -> integer().
shl(A, B) when is_integer(A), is_integer(B), B =< 64, B >= -64, A < ?SMALL, A > -?SMALL ->
    A bsl B;
shl(A, B) when is_integer(A), is_integer(B) ->
    Bits = ibits(A) + B,
    Bits =< ?MAX_INT_BITS orelse limit("shift to ~b bits exceeds ~b", [Bits, ?MAX_INT_BITS]),
    A bsl B;
shl(A, B) ->
    A bsl B.

-spec shr(integer(), integer()) -> integer().
shr(A, B) when is_integer(B), B >= 0 -> A bsr B;
shr(A, B) when is_integer(A), is_integer(B) -> shl(A, -B);
shr(A, B) -> A bsr B.

%% Integer division is schoolbook: (words of the quotient) x (words of the
%% divisor) word operations in one step the scheduler cannot interrupt.
-spec idiv(integer(), integer()) -> integer().
idiv(A, B) when is_integer(A), is_integer(B), A < ?SMALL, A > -?SMALL -> A div B;
idiv(A, B) -> div_check(A, B), A div B.

-spec irem(integer(), integer()) -> integer().
irem(A, B) when is_integer(A), is_integer(B), A < ?SMALL, A > -?SMALL -> A rem B;
irem(A, B) -> div_check(A, B), A rem B.

-spec div_check(term(), term()) -> ok.
div_check(A, B) when is_integer(A), is_integer(B), B >= ?SMALL orelse B =< -?SMALL ->
    WA = ibits(A) div 64 + 1,
    WB = ibits(B) div 64 + 1,
    Cost = max(WA - WB + 1, 1) * WB,
    Cost =< ?MAX_DIV_WORDS orelse limit("division of ~b by ~b bits is too large", [ibits(A), ibits(B)]),
    ok;
div_check(_, _) -> ok.

-spec ex_int_mod(integer(), integer()) -> integer().
ex_int_mod(A, B) -> div_check(A, B), 'Elixir.Integer':mod(A, B).
-spec ex_floor_div(integer(), integer()) -> integer().
ex_floor_div(A, B) -> div_check(A, B), 'Elixir.Integer':floor_div(A, B).

%% Integer power (Integer.pow/2, and what a genome writes as a loop is bounded by mul/2).
-spec int_pow(integer(), non_neg_integer()) -> integer().
int_pow(A, B) when is_integer(A), is_integer(B), B >= 0 ->
    Bits = ibits(A) * B,
    (A =:= 0 orelse A =:= 1 orelse A =:= -1 orelse Bits =< ?MAX_INT_BITS)
        orelse limit("power of ~b bits exceeds ~b", [Bits, ?MAX_INT_BITS]),
    ipow(A, B, 1);
int_pow(A, B) ->
    'Elixir.Integer':pow(A, B).

-spec ipow(integer(), non_neg_integer(), integer()) -> integer().
ipow(_, 0, Acc) -> Acc;
ipow(A, B, Acc) when B band 1 =:= 1 -> ipow(A * A, B bsr 1, Acc * A);
ipow(A, B, Acc) -> ipow(A * A, B bsr 1, Acc).

%% Kernel.**/2: integer powers as int_pow/2, floats as they are.
-spec pow(number(), number()) -> number().
pow(A, B) when is_integer(A), is_integer(B) -> int_pow(A, B);
pow(A, B) -> 'Elixir.Kernel':'**'(A, B).

-spec make_tuple(non_neg_integer(), term()) -> tuple().
make_tuple(N, _) when is_integer(N), N > ?MAX_TUPLE ->
    limit("erlang:make_tuple/2 of ~b elements exceeds ~b", [N, ?MAX_TUPLE]);
make_tuple(N, X) -> erlang:make_tuple(N, X).

%% Bits of an integer's magnitude, from above (cheap: no copy).
-spec ibits(integer()) -> non_neg_integer().
ibits(I) when I < ?SMALL, I > -?SMALL -> 32;
ibits(I) -> (erlang:external_size(I) - 3) * 8.

%% A non-literal size in bit syntax: Size * Unit bits must stay under the cap.
-spec bin_size(term(), pos_integer()) -> term().
bin_size(Size, Unit) when is_integer(Size), Size >= 0, Size * Unit =< 512 -> Size;
bin_size(Size, Unit) when is_integer(Size), Size >= 0, Size * Unit =< ?MAX_BIN_BYTES * 8 ->
    account(Size * Unit div 8),
    Size;
bin_size(Size, Unit) when is_integer(Size), Size >= 0 ->
    limit("bit syntax size ~b*~b exceeds ~b bytes", [Size, Unit, ?MAX_BIN_BYTES]);
bin_size(Size, _) -> Size.

%% An unsized binary segment of a construction with K such segments: each
%% at most ?MAX_BIN_BYTES div K bytes, so one construction stays under the
%% cap; and every segment over 64 bytes counts against the evaluation's
%% ?BIN_BUDGET (one construction is a single operation the scheduler cannot
%% interrupt, so only counting before it bounds what a loop of them builds).
-spec bin_seg(term(), pos_integer()) -> term().
bin_seg(V, _) when is_bitstring(V), byte_size(V) =< 64 -> V;
bin_seg(V, K) when is_bitstring(V) ->
    N = byte_size(V),
    N =< ?MAX_BIN_BYTES div K orelse limit("binary segment of ~b bytes exceeds ~b", [N, ?MAX_BIN_BYTES div K]),
    account(N),
    V;
bin_seg(V, _) -> V.

-spec account(non_neg_integer()) -> ok.
account(N) ->
    T = case get(?BYTES_KEY) of
            undefined -> guard(), N;
            M -> M + N
        end,
    T =< ?BIN_BUDGET orelse limit("binaries built exceed ~b bytes", [?BIN_BUDGET]),
    put(?BYTES_KEY, T),
    ok.

%% ---- the binary watcher -------------------------------------------------------------

%% At the entry of the evaluated function: one watcher per evaluation process.
-spec guard() -> ok.
guard() ->
    case get(?WATCH_KEY) of
        undefined ->
            Self = self(),
            W = spawn(fun() -> watch_init(Self) end),
            put(?WATCH_KEY, W),
            ok;
        _ -> ok
    end.

-spec watch_init(pid()) -> ok.
watch_init(P) ->
    watch(P, erlang:monitor(process, P)).

-spec watch(pid(), reference()) -> ok.
watch(P, MRef) ->
    receive
        {'DOWN', MRef, process, P, _} -> ok
    after ?WATCH_MS ->
        case process_info(P, binary) of
            {binary, Bins} ->
                case lists:sum([S || {_, S, _} <- Bins]) > ?BIN_BUDGET of
                    true -> exit(P, kill), ok;
                    false -> watch(P, MRef)
                end;
            undefined -> ok
        end
    end.

%% ---- sizes ---------------------------------------------------------------------------

%% Bytes of iodata/chardata (characters counted as up to 4 bytes), or throws
%% when past Cap. Walks the structure, so shared subterms count each time.
-spec data_size(term(), non_neg_integer()) -> non_neg_integer().
data_size(D, Cap) ->
    N = dsize(D, 0, Cap),
    N =< Cap orelse limit("data of more than ~b bytes", [Cap]),
    N.

-spec dsize(term(), non_neg_integer(), non_neg_integer()) -> non_neg_integer().
dsize(_, N, Cap) when N > Cap -> N;
dsize(B, N, _) when is_binary(B) -> N + byte_size(B);
dsize(B, N, _) when is_bitstring(B) -> N + byte_size(B);
dsize(C, N, _) when is_integer(C), C >= 0, C < 256 -> N + 1;
dsize(C, N, _) when is_integer(C) -> N + 4;
dsize([H | T], N, Cap) -> dsize(T, dsize(H, N, Cap), Cap);
dsize([], N, _) -> N;
dsize(_, N, _) -> N.   % not data: the real function raises badarg

-spec check_data(term()) -> ok.
check_data(D) ->
    case data_size(D, ?MAX_BIN_BYTES) of
        N when N > 64 -> account(N);
        _ -> ok
    end.

-spec check_bytes(non_neg_integer(), string()) -> ok.
check_bytes(N, _) when N =< 64 -> ok;
check_bytes(N, _) when N =< ?MAX_BIN_BYTES -> account(N);
check_bytes(N, What) -> limit("~s of ~b bytes exceeds ~b", [What, N, ?MAX_BIN_BYTES]).

-spec check_count(term(), string()) -> ok.
check_count(N, What) when is_integer(N), N > ?MAX_LIST -> limit("~s of ~b elements exceeds ~b", [What, N, ?MAX_LIST]);
check_count(_, _) -> ok.

-spec check_digits(term()) -> ok.
check_digits(I) when is_integer(I) ->
    ibits(I) =< ?MAX_DIGITS * 3 orelse limit("integer of ~b bits is too large to convert", [ibits(I)]),
    ok;
check_digits(B) when is_binary(B), byte_size(B) > ?MAX_DIGITS ->
    limit("~b digits exceed ~b", [byte_size(B), ?MAX_DIGITS]);
check_digits(L) when is_list(L) ->
    _ = data_size(L, ?MAX_DIGITS), ok;
check_digits(_) -> ok.

%% ---- Erlang standard library ---------------------------------------------------------

-spec iolist_to_binary(iodata()) -> binary().
iolist_to_binary(D) -> check_data(D), erlang:iolist_to_binary(D).

-spec list_to_binary(iolist()) -> binary().
list_to_binary(D) -> check_data(D), erlang:list_to_binary(D).

-spec iolist_size(iodata()) -> non_neg_integer().
iolist_size(D) -> _ = data_size(D, ?MAX_BIN_BYTES * 64), erlang:iolist_size(D).

-spec decode_unsigned(binary()) -> non_neg_integer().
decode_unsigned(B) -> decode_unsigned(B, big).
-spec decode_unsigned(binary(), big | little) -> non_neg_integer().
decode_unsigned(B, E) when is_binary(B), byte_size(B) * 8 > ?MAX_INT_BITS ->
    _ = E, limit("binary:decode_unsigned of ~b bytes exceeds ~b bits", [byte_size(B), ?MAX_INT_BITS]);
decode_unsigned(B, E) -> binary:decode_unsigned(B, E).

%% Normalisation can expand text a few times over: measured first.
-spec nfc_binary(unicode:chardata()) -> term().
nfc_binary(D) -> check_data(D), unicode:characters_to_nfc_binary(D).
-spec nfd_binary(unicode:chardata()) -> term().
nfd_binary(D) -> check_data(D), unicode:characters_to_nfd_binary(D).
-spec nfkc_binary(unicode:chardata()) -> term().
nfkc_binary(D) -> check_data(D), unicode:characters_to_nfkc_binary(D).
-spec nfkd_binary(unicode:chardata()) -> term().
nfkd_binary(D) -> check_data(D), unicode:characters_to_nfkd_binary(D).

-spec list_to_bitstring(list()) -> bitstring().
list_to_bitstring(D) -> check_data(D), erlang:list_to_bitstring(D).

-spec characters_to_binary(unicode:chardata()) -> term().
characters_to_binary(D) -> check_data(D), unicode:characters_to_binary(D).

-spec characters_to_binary(unicode:chardata(), unicode:encoding()) -> term().
characters_to_binary(D, E) -> check_data(D), unicode:characters_to_binary(D, E).

-spec characters_to_list(unicode:chardata()) -> term().
characters_to_list(D) -> check_data(D), unicode:characters_to_list(D).

-spec binary_copy(binary(), non_neg_integer()) -> binary().
binary_copy(B, N) when is_binary(B), is_integer(N), N >= 0 ->
    check_bytes(byte_size(B) * N, "binary:copy/2 result"),
    binary:copy(B, N);
binary_copy(B, N) -> binary:copy(B, N).

-spec binary_replace(binary(), term(), binary()) -> binary().
binary_replace(S, P, R) -> binary_replace(S, P, R, []).

-spec binary_replace(binary(), term(), binary(), list()) -> binary().
binary_replace(S, P, R, Opts) when is_binary(S), is_binary(R) ->
    %% every match could be replaced: at most byte_size(S) matches
    Matches = case lists:member(global, Opts) of
                  true -> length(binary:matches(S, P));
                  false -> 1
              end,
    check_bytes(byte_size(S) + Matches * byte_size(R), "binary:replace result"),
    binary:replace(S, P, R, Opts);
binary_replace(S, P, R, Opts) -> binary:replace(S, P, R, Opts).

-spec string_copies(unicode:chardata(), non_neg_integer()) -> unicode:chardata().
string_copies(S, N) when is_integer(N), N >= 0 ->
    check_bytes(data_size(S, ?MAX_BIN_BYTES) * N, "string:copies/2 result"),
    check_count(N, "string:copies/2"),
    string:copies(S, N);
string_copies(S, N) -> string:copies(S, N).

-spec lists_duplicate(non_neg_integer(), term()) -> list().
lists_duplicate(N, X) -> check_count(N, "lists:duplicate/2"), lists:duplicate(N, X).

-spec lists_seq(integer(), integer()) -> [integer()].
lists_seq(A, B) when is_integer(A), is_integer(B) -> check_count(B - A, "lists:seq"), lists:seq(A, B);
lists_seq(A, B) -> lists:seq(A, B).

-spec lists_seq(integer(), integer(), integer()) -> [integer()].
lists_seq(A, B, S) when is_integer(A), is_integer(B), is_integer(S), S =/= 0 ->
    check_count((B - A) div S, "lists:seq"), lists:seq(A, B, S);
lists_seq(A, B, S) -> lists:seq(A, B, S).

-spec integer_to_binary(integer()) -> binary().
integer_to_binary(I) -> check_digits(I), erlang:integer_to_binary(I).
-spec integer_to_binary(integer(), 2..36) -> binary().
integer_to_binary(I, B) -> check_digits(I), erlang:integer_to_binary(I, B).
-spec integer_to_list(integer()) -> string().
integer_to_list(I) -> check_digits(I), erlang:integer_to_list(I).
-spec integer_to_list(integer(), 2..36) -> string().
integer_to_list(I, B) -> check_digits(I), erlang:integer_to_list(I, B).
-spec binary_to_integer(binary()) -> integer().
binary_to_integer(S) -> check_digits(S), erlang:binary_to_integer(S).
-spec binary_to_integer(binary(), 2..36) -> integer().
binary_to_integer(S, B) -> check_digits(S), erlang:binary_to_integer(S, B).
-spec list_to_integer(string()) -> integer().
list_to_integer(S) -> check_digits(S), erlang:list_to_integer(S).
-spec list_to_integer(string(), 2..36) -> integer().
list_to_integer(S, B) -> check_digits(S), erlang:list_to_integer(S, B).

%% ---- Elixir standard library -----------------------------------------------------------

%% Enum.sort/2 and sort_by/3 with :asc, :desc or a function; a module as
%% sorter (Enum calls Mod.compare/2) is a call computed from data.
-spec ex_sort(term(), term()) -> list().
ex_sort(E, S) -> sorter(S), 'Elixir.Enum':sort(E, S).
-spec ex_sort_by(term(), fun(), term()) -> list().
ex_sort_by(E, F, S) -> sorter(S), 'Elixir.Enum':sort_by(E, F, S).

-spec sorter(term()) -> ok.
sorter(S) when S =:= asc; S =:= desc; is_function(S, 2) -> ok;
sorter(_) -> erlang:error({petri_limit, "a sorter must be :asc, :desc or a function"}).

%% Enum.join/map_join: the result is the parts and the separators.
-spec ex_join(term()) -> binary().
ex_join(E) -> ex_join(E, <<>>).
-spec ex_join(term(), binary()) -> binary().
ex_join(E, Sep) ->
    L = 'Elixir.Enum':to_list(E),
    check_parts(L, Sep),
    'Elixir.Enum':join(L, Sep).
-spec ex_map_join(term(), fun()) -> binary().
ex_map_join(E, F) -> ex_map_join(E, <<>>, F).
-spec ex_map_join(term(), binary(), fun()) -> binary().
ex_map_join(E, Sep, F) ->
    L = 'Elixir.Enum':map(E, F),
    check_parts(L, Sep),
    'Elixir.Enum':join(L, Sep).

-spec check_parts(list(), term()) -> ok.
check_parts(L, Sep) ->
    SepBytes = case is_binary(Sep) of true -> byte_size(Sep); false -> 0 end,
    N = lists:foldl(fun(X, Acc) ->
                            S = Acc + SepBytes + part_size(X),
                            S =< ?MAX_BIN_BYTES orelse limit("joined string exceeds ~b bytes", [?MAX_BIN_BYTES]),
                            S
                    end, 0, L),
    check_bytes(N, "joined string").

-spec part_size(term()) -> non_neg_integer().
part_size(X) when is_binary(X) -> byte_size(X);
part_size(X) when is_list(X) -> data_size(X, ?MAX_BIN_BYTES);
part_size(X) when is_integer(X) -> check_digits(X), 1 + ibits(X) div 3;
part_size(_) -> 32.

-spec ex_duplicate(binary(), non_neg_integer()) -> binary().
ex_duplicate(S, N) when is_binary(S), is_integer(N), N >= 0 ->
    check_bytes(byte_size(S) * N, "String.duplicate/2 result"),
    'Elixir.String':duplicate(S, N);
ex_duplicate(S, N) -> 'Elixir.String':duplicate(S, N).

-spec ex_list_duplicate(term(), non_neg_integer()) -> list().
ex_list_duplicate(X, N) -> check_count(N, "List.duplicate/2"), 'Elixir.List':duplicate(X, N).

-spec ex_tuple_duplicate(term(), non_neg_integer()) -> tuple().
ex_tuple_duplicate(_, N) when is_integer(N), N > ?MAX_TUPLE ->
    limit("Tuple.duplicate/2 of ~b elements exceeds ~b", [N, ?MAX_TUPLE]);
ex_tuple_duplicate(X, N) -> 'Elixir.Tuple':duplicate(X, N).

-spec check_pad(term(), term(), term()) -> ok.
check_pad(S, N, P) when is_binary(S), is_integer(N), is_binary(P) ->
    check_bytes(byte_size(S) + N * max(1, byte_size(P)), "padded string");
check_pad(_, _, _) -> ok.

-spec ex_pad_leading(binary(), non_neg_integer()) -> binary().
ex_pad_leading(S, N) -> check_pad(S, N, <<" ">>), 'Elixir.String':pad_leading(S, N).
-spec ex_pad_leading(binary(), non_neg_integer(), term()) -> binary().
ex_pad_leading(S, N, P) -> check_pad(S, N, P), 'Elixir.String':pad_leading(S, N, P).
-spec ex_pad_trailing(binary(), non_neg_integer()) -> binary().
ex_pad_trailing(S, N) -> check_pad(S, N, <<" ">>), 'Elixir.String':pad_trailing(S, N).
-spec ex_pad_trailing(binary(), non_neg_integer(), term()) -> binary().
ex_pad_trailing(S, N, P) -> check_pad(S, N, P), 'Elixir.String':pad_trailing(S, N, P).

%% String.replace/3,4 with binary patterns and replacement (regex patterns
%% are rejected here: regular expressions are not on the allowlist).
-spec ex_replace(binary(), term(), term()) -> binary().
ex_replace(S, P, R) -> ex_replace(S, P, R, []).
-spec ex_replace(binary(), term(), term(), list()) -> binary().
ex_replace(S, P, R, Opts) when is_binary(S), is_binary(R), (is_binary(P) orelse is_list(P)) ->
    Matches = case P of
                  <<>> -> byte_size(S) + 1;
                  _ -> length(binary:matches(S, P))
              end,
    check_bytes(byte_size(S) + Matches * byte_size(R), "String.replace/3 result"),
    'Elixir.String':replace(S, P, R, Opts);
ex_replace(_, _, _, _) ->
    erlang:error({petri_limit, "String.replace/3 needs binary pattern and replacement"}).

%% Kernel.to_string/1 and string interpolation: lists are chardata.
-spec ex_to_string(term()) -> binary().
ex_to_string(X) when is_list(X) -> check_data(X), 'Elixir.String.Chars':to_string(X);
ex_to_string(X) when is_integer(X) -> check_digits(X), 'Elixir.String.Chars':to_string(X);
ex_to_string(X) -> 'Elixir.String.Chars':to_string(X).

-spec ex_list_to_string(term()) -> binary().
ex_list_to_string(X) -> check_data(X), 'Elixir.List':to_string(X).

-spec ex_list_to_integer(term()) -> integer().
ex_list_to_integer(X) -> check_digits(X), 'Elixir.List':to_integer(X).

-spec ex_int_to_string(integer()) -> binary().
ex_int_to_string(I) -> check_digits(I), 'Elixir.Integer':to_string(I).
-spec ex_int_to_string(integer(), 2..36) -> binary().
ex_int_to_string(I, B) -> check_digits(I), 'Elixir.Integer':to_string(I, B).
-spec ex_str_to_integer(binary()) -> integer().
ex_str_to_integer(S) -> check_digits(S), 'Elixir.String':to_integer(S).
-spec ex_str_to_integer(binary(), 2..36) -> integer().
ex_str_to_integer(S, B) -> check_digits(S), 'Elixir.String':to_integer(S, B).
-spec ex_int_parse(binary()) -> term().
ex_int_parse(S) -> check_digits(S), 'Elixir.Integer':parse(S).
-spec ex_int_parse(binary(), 2..36) -> term().
ex_int_parse(S, B) -> check_digits(S), 'Elixir.Integer':parse(S, B).
-spec ex_int_digits(integer()) -> [integer()].
ex_int_digits(I) -> check_digits(I), 'Elixir.Integer':digits(I).
-spec ex_int_digits(integer(), pos_integer()) -> [integer()].
ex_int_digits(I, B) -> check_digits(I), 'Elixir.Integer':digits(I, B).
