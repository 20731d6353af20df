%% petri_wire - the agent<->VM messages of shared/wire.h in Erlang bit syntax.
%% Decoders never crash on garbage: they return {error, Reason}. Field order,
%% type numbers and status codes mirror wire.h exactly (append-only).
-module(petri_wire).

-export([encode/1, decode/1, status_code/1, status_name/1, sanitize_str/1]).
-export_type([msg/0, spec/0, status/0, fcase/0]).

-define(VERSION, 1).
-define(HDR_LEN, 24).
-define(MAX_FRAME, 16777216).

-define(T_HELLO, 1).
-define(T_PING, 2).
-define(T_PONG, 3).
-define(T_EVAL, 4).
-define(T_RESULT, 5).
-define(T_BREED, 6).
-define(T_CHILD, 7).
-define(T_STOP, 8).
-define(T_BREED_EVAL, 9).
-define(T_BRED, 10).

-type status() :: ok | parse_error | unsafe | compile_error | timeout | heap_limit
                | crash | bad_result | unsupported | internal | vm_killed.
-type fcase() :: {[number()], number()}.
%% A SPEC as decoded; language/error are kept as codes the caller validates
%% (an unknown language is a request the VM answers with "unsupported").
-type spec() :: #{function := binary(), arity := non_neg_integer(),
                  language := non_neg_integer(), timeout_ms := non_neg_integer(),
                  heap_words := non_neg_integer(), reductions := non_neg_integer(),
                  vars := [binary()], ops := [binary()],
                  const_min := float(), const_max := float(), const_int := boolean(),
                  error := non_neg_integer(), cases := [fcase()]}.
-type fitness() :: float() | nan | inf | neg_inf.
-type msg() :: {hello, #{otp_release := binary(), os_pid := non_neg_integer(),
                         slots := non_neg_integer(), elixir := boolean(),
                         version := binary()}}
             | {ping, non_neg_integer()}
             | {pong, #{seq := non_neg_integer(), memory := non_neg_integer(),
                        processes := non_neg_integer(), atoms := non_neg_integer(),
                        live := non_neg_integer(), loads := non_neg_integer(),
                        pending_purge := non_neg_integer(),
                        evals_ok := non_neg_integer(), evals_failed := non_neg_integer()}}
             | {eval, non_neg_integer(), spec(), binary()}
             | {result, non_neg_integer(), status(), fitness(), binary(),
                non_neg_integer(), non_neg_integer()}
             | {breed, non_neg_integer(), spec(), binary(), non_neg_integer(), [binary()]}
             | {child, non_neg_integer(), status(), binary(), binary()}
             | {breed_eval, non_neg_integer(), spec(), binary(), non_neg_integer(), [binary()]}
             | {bred, non_neg_integer(), status(), fitness(), binary(),
                non_neg_integer(), non_neg_integer(), binary()}
             | stop.

%% ---- status codes ---------------------------------------------------------

-spec status_code(status()) -> 0..10.
status_code(ok) -> 0;
status_code(parse_error) -> 1;
status_code(unsafe) -> 2;
status_code(compile_error) -> 3;
status_code(timeout) -> 4;
status_code(heap_limit) -> 5;
status_code(crash) -> 6;
status_code(bad_result) -> 7;
status_code(unsupported) -> 8;
status_code(internal) -> 9;
status_code(vm_killed) -> 10.

-spec status_name(integer()) -> status() | unknown.
status_name(0) -> ok;
status_name(1) -> parse_error;
status_name(2) -> unsafe;
status_name(3) -> compile_error;
status_name(4) -> timeout;
status_name(5) -> heap_limit;
status_name(6) -> crash;
status_name(7) -> bad_result;
status_name(8) -> unsupported;
status_name(9) -> internal;
status_name(10) -> vm_killed;
status_name(_) -> unknown.

%% ---- encoding -------------------------------------------------------------

%% Builds one complete frame (header + payload); sender is 16 zero bytes.
-spec encode(msg()) -> binary().
encode({hello, #{otp_release := Rel, os_pid := Pid, slots := Slots, elixir := Ex,
                 version := Vsn}}) ->
    frame(?T_HELLO, [str(Rel), <<Pid:32, Slots:32, (bool(Ex)):8>>, str(Vsn)]);
encode({ping, Seq}) ->
    frame(?T_PING, <<Seq:64>>);
encode({pong, #{seq := Seq, memory := Mem, processes := Procs, atoms := Atoms,
                live := Live, loads := Loads, pending_purge := Pend,
                evals_ok := Ok, evals_failed := Failed}}) ->
    frame(?T_PONG, <<Seq:64, Mem:64, Procs:32, Atoms:32, Live:32, Loads:64, Pend:32,
                     Ok:64, Failed:64>>);
encode({eval, ReqId, Spec, Source}) ->
    frame(?T_EVAL, [<<ReqId:64>>, enc_spec(Spec), bytes(Source)]);
encode({result, ReqId, Status, Fitness, Detail, LoadUs, EvalUs}) ->
    frame(?T_RESULT, [<<ReqId:64, (status_code(Status)):8>>, f64(Fitness), str(Detail),
                      <<LoadUs:64, EvalUs:64>>]);
encode({breed, ReqId, Spec, Op, Seed, Parents}) ->
    frame(?T_BREED, [<<ReqId:64>>, enc_spec(Spec), str(Op), <<Seed:64>>,
                     <<(length(Parents)):32>>, [bytes(P) || P <- Parents]]);
encode({child, ReqId, Status, Source, Detail}) ->
    frame(?T_CHILD, [<<ReqId:64, (status_code(Status)):8>>, bytes(Source), str(Detail)]);
encode({breed_eval, ReqId, Spec, Op, Seed, Parents}) ->
    frame(?T_BREED_EVAL, [<<ReqId:64>>, enc_spec(Spec), str(Op), <<Seed:64>>,
                          <<(length(Parents)):32>>, [bytes(P) || P <- Parents]]);
encode({bred, ReqId, Status, Fitness, Detail, LoadUs, EvalUs, Source}) ->
    frame(?T_BRED, [<<ReqId:64, (status_code(Status)):8>>, f64(Fitness), str(Detail),
                    <<LoadUs:64, EvalUs:64>>, bytes(Source)]);
encode(stop) ->
    frame(?T_STOP, <<>>).

-spec frame(0..65535, iodata()) -> binary().
frame(Type, Payload) ->
    P = iolist_to_binary(Payload),
    <<?VERSION:8, Type:16, 0:8, 0:128, (byte_size(P)):32, P/binary>>.

-spec enc_spec(spec()) -> iolist().
enc_spec(#{function := Fn, arity := Ar, language := Lang, timeout_ms := To,
           heap_words := Heap, reductions := Reds, vars := Vars, ops := Ops,
           const_min := Min, const_max := Max, const_int := CInt, error := Err,
           cases := Cases}) ->
    [str(Fn), <<Ar:32, Lang:8, To:32, Heap:64, Reds:64>>,
     list(fun str/1, Vars), list(fun str/1, Ops),
     f64(Min), f64(Max), <<(bool(CInt)):8, Err:8>>,
     list(fun({In, Out}) -> [list(fun num/1, In), num(Out)] end, Cases)].

-spec list(fun((term()) -> iodata()), list()) -> iolist().
list(F, L) -> [<<(length(L)):32>> | [F(X) || X <- L]].

-spec bool(boolean()) -> 0 | 1.
bool(true) -> 1;
bool(false) -> 0.

-spec bytes(iodata()) -> iolist().
bytes(B) -> [<<(iolist_size(B)):32>>, B].

-spec str(iodata()) -> iolist().
%% A str must be UTF-8 without NUL (wire_get_str rejects NUL); see sanitize_str/1.
str(S) -> bytes(sanitize_str(S)).

%% Replaces NUL bytes (which the C reader rejects) so any detail text is sendable.
-spec sanitize_str(iodata()) -> binary().
sanitize_str(S) ->
    B = iolist_to_binary(S),
    case binary:match(B, <<0>>) of
        nomatch -> B;
        _ -> binary:replace(B, <<0>>, <<"?">>, [global])
    end.

-spec f64(fitness() | number()) -> binary().
%% NaN and infinities cannot be built with Erlang float syntax: raw bits.
f64(nan) -> <<16#7FF8000000000000:64>>;
f64(inf) -> <<16#7FF0000000000000:64>>;
f64(neg_inf) -> <<16#FFF0000000000000:64>>;
f64(F) when is_number(F) -> <<(float(F)):64/float>>.

-spec num(number()) -> binary().
num(I) when is_integer(I) -> <<0:8, I:64/signed>>;
num(F) when is_float(F) -> <<1:8, F:64/float>>.

%% ---- decoding -------------------------------------------------------------

%% Decodes one complete frame. {unknown, Type} for a type this VM does not
%% know (the caller ignores it); {error, Reason} for anything malformed.
-spec decode(binary()) -> {ok, msg()} | {unknown, non_neg_integer()} | {error, term()}.
decode(<<V:8, _/binary>>) when V =/= ?VERSION ->
    {error, {bad_version, V}};
decode(<<?VERSION:8, Type:16, _Flags:8, _Sender:16/binary, Len:32, Payload/binary>>) ->
    if
        Len > ?MAX_FRAME -> {error, too_big};
        Len > byte_size(Payload) -> {error, truncated};
        Len < byte_size(Payload) -> {error, trailing_bytes};
        true ->
            try payload(Type, Payload) of
                unknown -> {unknown, Type};
                Msg -> {ok, Msg}
            catch
                throw:{wire, Reason} -> {error, Reason}
            end
    end;
decode(B) when is_binary(B) ->
    {error, truncated};
decode(_) ->
    {error, not_binary}.

-spec payload(non_neg_integer(), binary()) -> msg() | unknown.
%% Trailing bytes after the known fields are ignored (wire.h invariant 4).
payload(?T_HELLO, P0) ->
    {Rel, P1} = get_str(P0),
    {Pid, P2} = get_u(32, P1),
    {Slots, P3} = get_u(32, P2),
    {Ex, P4} = get_u(8, P3),
    {Vsn, _} = get_str(P4),
    {hello, #{otp_release => Rel, os_pid => Pid, slots => Slots, elixir => Ex =:= 1,
              version => Vsn}};
payload(?T_PING, P0) ->
    {Seq, _} = get_u(64, P0),
    {ping, Seq};
payload(?T_PONG, P0) ->
    case P0 of
        <<Seq:64, Mem:64, Procs:32, Atoms:32, Live:32, Loads:64, Pend:32, Ok:64,
          Failed:64, _/binary>> ->
            {pong, #{seq => Seq, memory => Mem, processes => Procs, atoms => Atoms,
                     live => Live, loads => Loads, pending_purge => Pend,
                     evals_ok => Ok, evals_failed => Failed}};
        _ -> throw({wire, truncated})
    end;
payload(?T_EVAL, P0) ->
    {ReqId, P1} = get_u(64, P0),
    {Spec, P2} = get_spec(P1),
    {Source, _} = get_bytes(P2),
    {eval, ReqId, Spec, Source};
payload(?T_RESULT, P0) ->
    {Result, _} = get_result(P0),
    Result;
payload(?T_BREED, P0) ->
    {ReqId, P1} = get_u(64, P0),
    {Spec, P2} = get_spec(P1),
    {Op, P3} = get_str(P2),
    {Seed, P4} = get_u(64, P3),
    {Parents, _} = get_list(fun get_bytes/1, 4, P4),
    {breed, ReqId, Spec, Op, Seed, Parents};
payload(?T_CHILD, P0) ->
    {ReqId, P1} = get_u(64, P0),
    {Code, P2} = get_u(8, P1),
    {Source, P3} = get_bytes(P2),
    {Detail, _} = get_str(P3),
    {child, ReqId, get_status(Code), Source, Detail};
payload(?T_BREED_EVAL, P0) ->
    {breed, ReqId, Spec, Op, Seed, Parents} = payload(?T_BREED, P0),
    {breed_eval, ReqId, Spec, Op, Seed, Parents};
payload(?T_BRED, P0) ->
    {{result, ReqId, Status, Fit, Detail, LoadUs, EvalUs}, P1} = get_result(P0),
    {Source, _} = get_bytes(P1),
    {bred, ReqId, Status, Fit, Detail, LoadUs, EvalUs, Source};
payload(?T_STOP, _) ->
    stop;
payload(_, _) ->
    unknown.

%% The fields of a RESULT (BRED begins with them too).
-spec get_result(binary()) -> {msg(), binary()}.
get_result(P0) ->
    {ReqId, P1} = get_u(64, P0),
    {Code, P2} = get_u(8, P1),
    {Fit, P3} = get_f64_any(P2),
    {Detail, P4} = get_str(P3),
    {LoadUs, P5} = get_u(64, P4),
    {EvalUs, P6} = get_u(64, P5),
    {{result, ReqId, get_status(Code), Fit, Detail, LoadUs, EvalUs}, P6}.

-spec get_status(non_neg_integer()) -> status().
get_status(Code) ->
    case status_name(Code) of
        unknown -> throw({wire, {bad_status, Code}});
        S -> S
    end.

-spec get_spec(binary()) -> {spec(), binary()}.
get_spec(P0) ->
    {Fn, P1} = get_str(P0),
    {Ar, P2} = get_u(32, P1),
    {Lang, P3} = get_u(8, P2),
    {To, P4} = get_u(32, P3),
    {Heap, P5} = get_u(64, P4),
    {Reds, P6} = get_u(64, P5),
    {Vars, P7} = get_list(fun get_str/1, 4, P6),
    {Ops, P8} = get_list(fun get_str/1, 4, P7),
    {Min, P9} = get_f64(P8),
    {Max, P10} = get_f64(P9),
    {CInt, P11} = get_u(8, P10),
    {Err, P12} = get_u(8, P11),
    {Cases, P13} = get_list(fun get_case/1, 13, P12),
    {#{function => Fn, arity => Ar, language => Lang, timeout_ms => To,
       heap_words => Heap, reductions => Reds, vars => Vars, ops => Ops,
       const_min => Min, const_max => Max, const_int => CInt =:= 1, error => Err,
       cases => Cases}, P13}.

-spec get_case(binary()) -> {fcase(), binary()}.
get_case(P0) ->
    {In, P1} = get_list(fun get_num/1, 9, P0),
    {Out, P2} = get_num(P1),
    {{In, Out}, P2}.

-spec get_u(8 | 16 | 32 | 64, binary()) -> {non_neg_integer(), binary()}.
get_u(Bits, P) ->
    case P of
        <<V:Bits, Rest/binary>> -> {V, Rest};
        _ -> throw({wire, truncated})
    end.

-spec get_f64(binary()) -> {float(), binary()}.
%% A finite f64 (spec fields); NaN/Inf in a spec are malformed.
get_f64(P) ->
    case get_f64_any(P) of
        {F, Rest} when is_float(F) -> {F, Rest};
        _ -> throw({wire, non_finite_float})
    end.

-spec get_f64_any(binary()) -> {fitness(), binary()}.
get_f64_any(<<F:64/float, Rest/binary>>) -> {F, Rest};
get_f64_any(<<0:1, 16#7FF:11, 0:52, Rest/binary>>) -> {inf, Rest};
get_f64_any(<<1:1, 16#7FF:11, 0:52, Rest/binary>>) -> {neg_inf, Rest};
get_f64_any(<<_:1, 16#7FF:11, _:52, Rest/binary>>) -> {nan, Rest};
get_f64_any(_) -> throw({wire, truncated}).

-spec get_num(binary()) -> {number(), binary()}.
get_num(<<0:8, I:64/signed, Rest/binary>>) -> {I, Rest};
get_num(<<1:8, F:64/float, Rest/binary>>) -> {F, Rest};
get_num(<<1:8, _:64, _/binary>>) -> throw({wire, non_finite_float});
get_num(<<T:8, _:64, _/binary>>) -> throw({wire, {bad_num_tag, T}});
get_num(_) -> throw({wire, truncated}).

-spec get_bytes(binary()) -> {binary(), binary()}.
get_bytes(<<Len:32, B:Len/binary, Rest/binary>>) -> {B, Rest};
get_bytes(_) -> throw({wire, truncated}).

-spec get_str(binary()) -> {binary(), binary()}.
get_str(P) ->
    {B, Rest} = get_bytes(P),
    case binary:match(B, <<0>>) of
        nomatch -> {B, Rest};
        _ -> throw({wire, nul_in_str})
    end.

-spec get_list(fun((binary()) -> {term(), binary()}), pos_integer(), binary()) -> {list(), binary()}.
%% The count is checked against the bytes left before any item is read.
get_list(F, MinItem, <<Count:32, Rest/binary>>) ->
    case Count * MinItem =< byte_size(Rest) of
        true -> get_items(F, Count, Rest, []);
        false -> throw({wire, truncated})
    end;
get_list(_, _, _) ->
    throw({wire, truncated}).

-spec get_items(fun((binary()) -> {term(), binary()}), non_neg_integer(), binary(), list()) -> {list(), binary()}.
get_items(_, 0, Rest, Acc) -> {lists:reverse(Acc), Rest};
get_items(F, N, P, Acc) ->
    {X, Rest} = F(P),
    get_items(F, N - 1, Rest, [X | Acc]).
