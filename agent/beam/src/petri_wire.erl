%% petri_wire - the agent<->VM messages of shared/wire.h in Erlang bit syntax.
%% Decoders never crash on garbage: they return {error, Reason}. Field order,
%% type numbers and status codes mirror wire.h exactly (append-only).
-module(petri_wire).

-export([encode/1, decode/1, decode_spec/1, encode_spec/1, term_cases/3, default_ext/0,
         status_code/1, status_name/1, sanitize_str/1]).
-export_type([msg/0, spec/0, status/0, fcase/0, tcase/0, ext/0, live_start/0]).

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
-define(T_LIVE_START, 11).
-define(T_LIVE_REQUESTS, 12).
-define(T_LIVE_REPLIES, 13).
-define(T_LIVE_UPGRADE, 14).
-define(T_LIVE_EVENT, 15).
-define(T_LIVE_STOP, 16).
-define(MAX_LIVE_BATCH, 4096).   % WIRE_LIVE_MAX_BATCH

-define(MAX_ATOMS, 256).        % declared atoms per spec
-define(MAX_ATOM_BYTES, 255).   % the VM's own limit on an atom's name
-define(MAX_TERM_CASES, 10000). % SPEC_MAX_CASES in shared/spec.h

-type status() :: ok | parse_error | unsafe | compile_error | timeout | heap_limit
                | crash | bad_result | unsupported | internal | vm_killed.
-type fcase() :: {[number()], number()}.
-type tcase() :: {list(), term()}.
%% A SPEC as decoded; language/error/cost_mode are kept as codes the caller
%% validates (an unknown language is a request the VM answers with
%% "unsupported"). term_cases is none (the numeric cases score), the decoded
%% cases, or {error, Detail} when the bytes were not acceptable term cases
%% (petri_spec:validate/1 turns that into an answer). raw: the SPEC's bytes
%% as received (decoded specs only; the result cache keys on them).
-type spec() :: #{function := binary(), arity := non_neg_integer(),
                  language := non_neg_integer(), timeout_ms := non_neg_integer(),
                  heap_words := non_neg_integer(), reductions := non_neg_integer(),
                  vars := [binary()], ops := [binary()],
                  const_min := float(), const_max := float(), const_int := boolean(),
                  error := non_neg_integer(), cases := [fcase()],
                  term_cases := none | {ok, [tcase()]} | {error, binary()},
                  atoms := [binary()], float_tol := float(), mismatch_error := float(),
                  evaluator := binary(), evaluator_lang := non_neg_integer(),
                  cost_mode := non_neg_integer(), cost_w := {float(), float(), float()},
                  per_case := boolean(), split_tuples => boolean(), raw => binary()}.
%% RESULT_EXT. errors: the per-case errors (empty unless the spec asked).
-type ext() :: #{passed := non_neg_integer(), cases := non_neg_integer(),
                 cost := fitness(), reused := boolean(),
                 metrics := [{binary(), fitness()}], errors := [fitness()]}.
-type fitness() :: float() | nan | inf | neg_inf.
-type msg() :: {hello, #{otp_release := binary(), os_pid := non_neg_integer(),
                         slots := non_neg_integer(), elixir := boolean(),
                         version := binary(), breeder := <<_:128>>}}
             | {ping, non_neg_integer()}
             | {pong, #{seq := non_neg_integer(), memory := non_neg_integer(),
                        processes := non_neg_integer(), atoms := non_neg_integer(),
                        live := non_neg_integer(), loads := non_neg_integer(),
                        pending_purge := non_neg_integer(),
                        evals_ok := non_neg_integer(), evals_failed := non_neg_integer(),
                        cache_hits => non_neg_integer()}}
             | {eval, non_neg_integer(), spec(), binary()}
             | {result, non_neg_integer(), status(), fitness(), binary(),
                non_neg_integer(), non_neg_integer(), ext()}
             | {breed, non_neg_integer(), spec(), binary(), non_neg_integer(), [binary()]}
             | {child, non_neg_integer(), status(), binary(), binary()}
             | {breed_eval, non_neg_integer(), spec(), binary(), non_neg_integer(), [binary()]}
             | {bred, non_neg_integer(), status(), fitness(), binary(),
                non_neg_integer(), non_neg_integer(), binary(), ext()}
             | stop
             | {live_start, live_start()}
             | {live_requests, non_neg_integer(), [petri_live:request()]}
             | {live_replies, non_neg_integer(), [petri_live:reply()]}
             | {live_upgrade, non_neg_integer(), non_neg_integer(), non_neg_integer(), binary()}
             | {live_upgrade, non_neg_integer(), non_neg_integer(), non_neg_integer(), binary(),
                0..255}
             | {live_event, non_neg_integer(), petri_live:event()}
             | {live_stop, non_neg_integer()}.
%% LIVE_START's fields (wire.h).
-type live_start() :: #{live_id := non_neg_integer(), version := non_neg_integer(),
                        timeout_ms := non_neg_integer(), heap_words := non_neg_integer(),
                        reductions := non_neg_integer(), state_words := non_neg_integer(),
                        probation := non_neg_integer(), window := non_neg_integer(),
                        lat_w := float(), red_w := float(), tolerance := float(),
                        atoms := [binary()], init_arg := binary(), source := binary(),
                        snapshot := binary(), next_version := non_neg_integer(),
                        language => 0..255}.

-define(LIVE_KINDS, [started, upgrade, promoted, rollback, refused, restarted, failed, stopped]).

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
                 version := Vsn, breeder := <<_:128>> = B}}) ->
    frame(?T_HELLO, [str(Rel), <<Pid:32, Slots:32, (bool(Ex)):8>>, str(Vsn), B]);
encode({ping, Seq}) ->
    frame(?T_PING, <<Seq:64>>);
encode({pong, #{seq := Seq, memory := Mem, processes := Procs, atoms := Atoms,
                live := Live, loads := Loads, pending_purge := Pend,
                evals_ok := Ok, evals_failed := Failed}}) ->
    frame(?T_PONG, <<Seq:64, Mem:64, Procs:32, Atoms:32, Live:32, Loads:64, Pend:32,
                     Ok:64, Failed:64>>);
encode({eval, ReqId, Spec, Source}) ->
    frame(?T_EVAL, [<<ReqId:64>>, enc_spec(Spec), bytes(Source)]);
encode({result, ReqId, Status, Fitness, Detail, LoadUs, EvalUs, Ext}) ->
    frame(?T_RESULT, [<<ReqId:64, (status_code(Status)):8>>, f64(Fitness), str(Detail),
                      <<LoadUs:64, EvalUs:64>>, enc_ext(Ext)]);
encode({breed, ReqId, Spec, Op, Seed, Parents}) ->
    frame(?T_BREED, [<<ReqId:64>>, enc_spec(Spec), str(Op), <<Seed:64>>,
                     <<(length(Parents)):32>>, [bytes(P) || P <- Parents]]);
encode({child, ReqId, Status, Source, Detail}) ->
    frame(?T_CHILD, [<<ReqId:64, (status_code(Status)):8>>, bytes(Source), str(Detail)]);
encode({breed_eval, ReqId, Spec, Op, Seed, Parents}) ->
    frame(?T_BREED_EVAL, [<<ReqId:64>>, enc_spec(Spec), str(Op), <<Seed:64>>,
                          <<(length(Parents)):32>>, [bytes(P) || P <- Parents]]);
encode({bred, ReqId, Status, Fitness, Detail, LoadUs, EvalUs, Source, Ext}) ->
    frame(?T_BRED, [<<ReqId:64, (status_code(Status)):8>>, f64(Fitness), str(Detail),
                    <<LoadUs:64, EvalUs:64>>, bytes(Source), enc_ext(Ext)]);
encode(stop) ->
    frame(?T_STOP, <<>>);
encode({live_start, #{live_id := Id, version := V, timeout_ms := To, heap_words := Heap,
                      reductions := Reds, state_words := SW, probation := Prob,
                      window := Win, lat_w := LW, red_w := RW, tolerance := Tol,
                      atoms := Atoms, init_arg := Arg, source := Src, snapshot := Snap,
                      next_version := Next} = M}) ->
    frame(?T_LIVE_START, [<<Id:64, V:32, To:32, Heap:64, Reds:64, SW:64, Prob:32, Win:32>>,
                          f64(LW), f64(RW), f64(Tol), list(fun str/1, Atoms), bytes(Arg),
                          bytes(Src), bytes(Snap), <<Next:32, (maps:get(language, M, 0)):8>>]);
encode({live_requests, Id, Reqs}) ->
    frame(?T_LIVE_REQUESTS, [<<Id:64>>, list(fun({Seq, R, E}) -> [<<Seq:64>>, bytes(R), bytes(E)]
                                             end, Reqs)]);
encode({live_replies, Id, Replies}) ->
    frame(?T_LIVE_REPLIES,
          [<<Id:64>>, list(fun({Seq, St, Correct, V, Lat, Svc, Reds, Score}) ->
                                   [<<Seq:64, (status_code(St)):8, Correct:8, V:32, Lat:64,
                                      Svc:64, Reds:64>>, f64(Score)]
                           end, Replies)]);
encode({live_upgrade, Id, UpId, Prob, Src}) ->
    encode({live_upgrade, Id, UpId, Prob, Src, 1});
encode({live_upgrade, Id, UpId, Prob, Src, Judge}) ->
    frame(?T_LIVE_UPGRADE, [<<Id:64, UpId:64, Prob:32>>, bytes(Src), <<Judge:8>>]);
encode({live_event, Id, #{kind := Kind, upgrade_id := UpId, version := V, at_seq := Seq,
                          from_hash := FH, to_hash := TH, state_before := SB,
                          state_after := SA, parent_score := PS, child_score := CS,
                          probation := Prob, reason := Why, snapshot := Snap,
                          took_us := Took}}) ->
    K = length(lists:takewhile(fun(X) -> X =/= Kind end, ?LIVE_KINDS)),
    frame(?T_LIVE_EVENT, [<<Id:64, K:8, UpId:64, V:32, Seq:64>>, str(FH), str(TH), str(SB),
                          str(SA), f64(PS), f64(CS), <<Prob:32>>, str(Why), bytes(Snap),
                          <<Took:64>>]);
encode({live_stop, Id}) ->
    frame(?T_LIVE_STOP, <<Id:64>>).

-spec frame(0..65535, iodata()) -> binary().
frame(Type, Payload) ->
    P = iolist_to_binary(Payload),
    <<?VERSION:8, Type:16, 0:8, 0:128, (byte_size(P)):32, P/binary>>.

%% A standalone SPEC block (what WIRE_WORK_BATCH carries as spec:bytes).
-spec encode_spec(spec()) -> binary().
encode_spec(Spec) -> iolist_to_binary(enc_spec(Spec)).

-spec enc_spec(spec()) -> iolist().
enc_spec(#{function := Fn, arity := Ar, language := Lang, timeout_ms := To,
           heap_words := Heap, reductions := Reds, vars := Vars, ops := Ops,
           const_min := Min, const_max := Max, const_int := CInt, error := Err,
           cases := Cases, term_cases := TCases, atoms := Atoms, float_tol := Tol,
           mismatch_error := Mis, evaluator := Ev, evaluator_lang := EvLang,
           cost_mode := CostMode, cost_w := {WR, WH, WT}, per_case := PerCase} = Spec) ->
    TBytes = case TCases of
                 {ok, L} -> term_to_binary(L);
                 _ -> <<>>
             end,
    [str(Fn), <<Ar:32, Lang:8, To:32, Heap:64, Reds:64>>,
     list(fun str/1, Vars), list(fun str/1, Ops),
     f64(Min), f64(Max), <<(bool(CInt)):8, Err:8>>,
     list(fun({In, Out}) -> [list(fun num/1, In), num(Out)] end, Cases),
     bytes(TBytes), list(fun str/1, Atoms), f64(Tol), f64(Mis), bytes(Ev), <<EvLang:8, CostMode:8>>,
     f64(WR), f64(WH), f64(WT), <<(bool(PerCase)):8>>,
     <<(bool(maps:get(split_tuples, Spec, false))):8>>].

-spec enc_ext(ext()) -> iolist().
enc_ext(#{passed := Passed, cases := Cases, cost := Cost, reused := Reused, metrics := Ms,
          errors := Errs}) ->
    [<<Passed:32, Cases:32>>, f64(Cost), <<(bool(Reused)):8>>,
     list(fun({Name, V}) -> [str(Name), f64(V)] end, Ms), list(fun f64/1, Errs)].

%% RESULT_EXT of a result that carries none of its own (an older writer, or a
%% failure before evaluation).
-spec default_ext() -> ext().
default_ext() ->
    #{passed => 0, cases => 0, cost => 0.0, reused => false, metrics => [], errors => []}.

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
    {Vsn, P5} = get_str(P4),
    %% appended: a VM from before it sends none (zeros: unknown)
    B = case P5 of
            <<B0:16/binary, _/binary>> -> B0;
            _ -> <<0:128>>
        end,
    {hello, #{otp_release => Rel, os_pid => Pid, slots => Slots, elixir => Ex =:= 1,
              version => Vsn, breeder => B}};
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
    with_spec(P1, fun(Spec, P2) ->
                          {Source, Rest} = get_bytes(P2),
                          {{eval, ReqId, Spec, Source}, Rest}
                  end);
payload(?T_RESULT, P0) ->
    {{result, ReqId, Status, Fit, Detail, LoadUs, EvalUs}, P1} = get_result(P0),
    {Ext, _} = get_ext(P1),
    {result, ReqId, Status, Fit, Detail, LoadUs, EvalUs, Ext};
payload(?T_BREED, P0) ->
    {ReqId, P1} = get_u(64, P0),
    with_spec(P1, fun(Spec, P2) ->
                          {Op, P3} = get_str(P2),
                          {Seed, P4} = get_u(64, P3),
                          {Parents, Rest} = get_list(fun get_bytes/1, 4, P4),
                          {{breed, ReqId, Spec, Op, Seed, Parents}, Rest}
                  end);
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
    {Source, P2} = get_bytes(P1),
    {Ext, _} = get_ext(P2),
    {bred, ReqId, Status, Fit, Detail, LoadUs, EvalUs, Source, Ext};
payload(?T_STOP, _) ->
    stop;
payload(?T_LIVE_START, P0) ->
    case P0 of
        <<Id:64, V:32, To:32, Heap:64, Reds:64, SW:64, Prob:32, Win:32, P1/binary>> ->
            {LW, P2} = get_f64(P1),
            {RW, P3} = get_f64(P2),
            {Tol, P4} = get_f64(P3),
            {Atoms, P5} = get_list(fun get_str/1, 4, P4),
            {Arg, P6} = get_bytes(P5),
            {Src, P7} = get_bytes(P6),
            {Snap, P8} = get_bytes(P7),
            {Next, P9} = opt(fun(P) -> get_u(32, P) end, 0, P8),
            {Lang, _} = opt(fun(P) -> get_u(8, P) end, 0, P9),
            {live_start, #{live_id => Id, version => V, timeout_ms => To, heap_words => Heap,
                           reductions => Reds, state_words => SW, probation => Prob,
                           window => Win, lat_w => LW, red_w => RW, tolerance => Tol,
                           atoms => Atoms, init_arg => Arg, source => Src, snapshot => Snap,
                           next_version => Next, language => Lang}};
        _ -> throw({wire, truncated})
    end;
payload(?T_LIVE_REQUESTS, P0) ->
    {Id, P1} = get_u(64, P0),
    {Reqs, _} = get_list(fun(P) ->
                                 {Seq, Q1} = get_u(64, P),
                                 {R, Q2} = get_bytes(Q1),
                                 {E, Q3} = get_bytes(Q2),
                                 {{Seq, R, E}, Q3}
                         end, 16, max_batch(P1)),
    {live_requests, Id, Reqs};
payload(?T_LIVE_REPLIES, P0) ->
    {Id, P1} = get_u(64, P0),
    {Rs, _} = get_list(fun(<<Seq:64, Code:8, Correct:8, V:32, Lat:64, Svc:64, Reds:64, P/binary>>)
                             when Correct =< 2 ->
                               {Score, Q} = get_f64_any(P),
                               {{Seq, get_status(Code), Correct, V, Lat, Svc, Reds, Score}, Q};
                          (_) -> throw({wire, bad_reply})
                       end, 46, max_batch(P1)),
    {live_replies, Id, Rs};
payload(?T_LIVE_UPGRADE, P0) ->
    case P0 of
        <<Id:64, UpId:64, Prob:32, P1/binary>> ->
            {Src, P2} = get_bytes(P1),
            {Judge, _} = opt(fun(P) -> get_u(8, P) end, 1, P2),
            {live_upgrade, Id, UpId, Prob, Src, Judge};
        _ -> throw({wire, truncated})
    end;
payload(?T_LIVE_EVENT, P0) ->
    case P0 of
        <<Id:64, K:8, UpId:64, V:32, Seq:64, P1/binary>> when K < length(?LIVE_KINDS) ->
            {FH, P2} = get_str(P1),
            {TH, P3} = get_str(P2),
            {SB, P4} = get_str(P3),
            {SA, P5} = get_str(P4),
            {PS, P6} = get_f64_any(P5),
            {CS, P7} = get_f64_any(P6),
            {Prob, P8} = get_u(32, P7),
            {Why, P9} = get_str(P8),
            {Snap, P10} = get_bytes(P9),
            {Took, _} = get_u(64, P10),
            {live_event, Id, #{kind => lists:nth(K + 1, ?LIVE_KINDS), upgrade_id => UpId,
                               version => V, at_seq => Seq, from_hash => FH, to_hash => TH,
                               state_before => SB, state_after => SA, parent_score => PS,
                               child_score => CS, probation => Prob, reason => Why,
                               snapshot => Snap, took_us => Took}};
        <<_:64, K:8, _/binary>> when K >= 8 -> throw({wire, {bad_live_kind, K}});
        _ -> throw({wire, truncated})
    end;
payload(?T_LIVE_STOP, P0) ->
    {Id, _} = get_u(64, P0),
    {live_stop, Id};
payload(_, _) ->
    unknown.

%% A batch count over WIRE_LIVE_MAX_BATCH is refused before any item is read.
-spec max_batch(binary()) -> binary().
max_batch(<<N:32, _/binary>>) when N > ?MAX_LIVE_BATCH -> throw({wire, {batch_too_big, N}});
max_batch(P) -> P.

%% The fields of a RESULT before RESULT_EXT (BRED begins with them too).
-spec get_result(binary()) -> {{result, non_neg_integer(), status(), fitness(), binary(),
                                non_neg_integer(), non_neg_integer()}, binary()}.
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

%% RESULT_EXT; missing trailing fields (an older writer) take their defaults.
-spec get_ext(binary()) -> {ext(), binary()}.
get_ext(P0) ->
    #{passed := DP, cases := DC, cost := DCost, metrics := DM, errors := DE} = default_ext(),
    {Passed, P1} = opt(fun(P) -> get_u(32, P) end, DP, P0),
    {Cases, P2} = opt(fun(P) -> get_u(32, P) end, DC, P1),
    {Cost, P3} = opt(fun get_f64_any/1, DCost, P2),
    {Reused, P4} = opt(fun(P) -> get_u(8, P) end, 0, P3),
    {Ms, P5} = opt(fun(P) -> get_list(fun get_metric/1, 12, P) end, DM, P4),
    {Errs, P6} = opt(fun(P) -> get_list(fun get_f64_any/1, 8, P) end, DE, P5),
    {#{passed => Passed, cases => Cases, cost => Cost, reused => Reused =:= 1,
       metrics => Ms, errors => Errs}, P6}.

-spec get_metric(binary()) -> {{binary(), fitness()}, binary()}.
get_metric(P0) ->
    {Name, P1} = get_str(P0),
    {V, P2} = get_f64_any(P1),
    {{Name, V}, P2}.

%% A field that an older writer may have left out: absent when no bytes remain.
-spec opt(fun((binary()) -> {T, binary()}), T, binary()) -> {T, binary()}.
opt(_, Default, <<>>) -> {Default, <<>>};
opt(Get, _, P) -> Get(P).

%% A standalone SPEC block (spec:bytes of WIRE_WORK_BATCH). Missing trailing
%% fields take their defaults; trailing bytes are ignored.
-spec decode_spec(binary()) -> {ok, spec()} | {error, term()}.
decode_spec(B) when is_binary(B) ->
    try get_spec(B) of
        {Spec, _} -> {ok, Spec}
    catch
        throw:{wire, Reason} -> {error, Reason}
    end;
decode_spec(_) ->
    {error, not_binary}.

%% A message whose SPEC is inline, followed by the fields Tail reads. Inside a
%% frame the SPEC's appended fields cannot be told from the fields after it
%% (a bytes field looks like any other), so the SPEC of an older writer is
%% recognised by parsing: the layout with the appended fields first; if that
%% fails or leaves bytes over, the layout without them, taken only if it
%% uses the payload exactly; else the first layout's answer stands.
-spec with_spec(binary(), fun((spec(), binary()) -> {msg(), binary()})) -> msg().
with_spec(P, Tail) ->
    Full = layout(full, P, Tail),
    case Full of
        {ok, Msg, <<>>} -> Msg;
        _ ->
            case layout(base, P, Tail) of
                {ok, Msg, <<>>} -> Msg;
                _ ->
                    case Full of
                        {ok, Msg, _} -> Msg;
                        {error, Reason} -> throw({wire, Reason})
                    end
            end
    end.

-spec layout(full | base, binary(), fun((spec(), binary()) -> {msg(), binary()})) ->
          {ok, msg(), binary()} | {error, term()}.
layout(Layout, P, Tail) ->
    try
        {Spec, P2} = get_spec(Layout, P),
        {Msg, Rest} = Tail(Spec, P2),
        {ok, Msg, Rest}
    catch
        throw:{wire, Reason} -> {error, Reason}
    end.

-spec get_spec(binary()) -> {spec(), binary()}.
get_spec(P0) ->
    get_spec(full, P0).

%% full: the appended fields follow (those missing at the end of the bytes
%% take their defaults); base: an older writer's SPEC, they all take them.
-spec get_spec(full | base, binary()) -> {spec(), binary()}.
get_spec(Layout, P0) ->
    {Spec, Rest} = get_spec_fields(Layout, P0),
    {Spec#{raw => binary:part(P0, 0, byte_size(P0) - byte_size(Rest))}, Rest}.

-spec get_spec_fields(full | base, binary()) -> {spec(), binary()}.
get_spec_fields(Layout, P0) ->
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
    {Cases, P12b} = get_list(fun get_case/1, 13, P12),
    {P13, After} = case Layout of
                       full -> {P12b, none};
                       base -> {<<>>, P12b}
                   end,
    {TBytes, P14} = opt(fun get_bytes/1, <<>>, P13),
    {Atoms, P15} = opt(fun(P) -> get_list(fun get_str/1, 4, P) end, [], P14),
    {Tol, P16} = opt(fun get_f64/1, 0.0, P15),
    {Mis, P17} = opt(fun get_f64/1, 1.0, P16),
    {Ev, P18} = opt(fun get_bytes/1, <<>>, P17),
    {EvLang, P19} = opt(fun(P) -> get_u(8, P) end, 0, P18),
    {CostMode, P20} = opt(fun(P) -> get_u(8, P) end, 0, P19),
    {WR, P21} = opt(fun get_f64/1, 0.0, P20),
    {WH, P22} = opt(fun get_f64/1, 0.0, P21),
    {WT, P23} = opt(fun get_f64/1, 0.0, P22),
    {PerCase, P24} = opt(fun(P) -> get_u(8, P) end, 0, P23),
    {Split, P25} = opt(fun(P) -> get_u(8, P) end, 0, P24),
    {#{function => Fn, arity => Ar, language => Lang, timeout_ms => To,
       heap_words => Heap, reductions => Reds, vars => Vars, ops => Ops,
       const_min => Min, const_max => Max, const_int => CInt =:= 1, error => Err,
       cases => Cases, term_cases => term_cases(TBytes, Atoms, Ar), atoms => Atoms,
       float_tol => Tol, mismatch_error => Mis, evaluator => Ev, evaluator_lang => EvLang,
       cost_mode => CostMode, cost_w => {WR, WH, WT}, per_case => PerCase =:= 1,
       split_tuples => Split =:= 1},
     case After of none -> P25; _ -> After end}.

%% ---- term cases ---------------------------------------------------------------

%% Decodes term_cases bytes: none when empty, else {ok, Cases} or {error,
%% Detail}. The declared atoms are created first (the spec is trusted and the
%% list is bounded); binary_to_term/2 with safe then creates no other atom.
%% The cases must be a list of {Inputs, Expected} with Arity inputs each, made
%% of numbers, declared atoms (and true, false, nil), binaries, lists, tuples
%% and maps only.
-spec term_cases(binary(), [binary()], non_neg_integer()) ->
          none | {ok, [tcase()]} | {error, binary()}.
term_cases(<<>>, _, _) ->
    none;
term_cases(_, Atoms, _) when length(Atoms) > ?MAX_ATOMS ->
    terr("~b atoms declared, limit ~b", [length(Atoms), ?MAX_ATOMS]);
term_cases(Bytes, Atoms, Arity) ->
    case declare(Atoms, #{true => [], false => [], nil => []}) of
        {ok, Allowed} ->
            try binary_to_term(Bytes, [safe]) of
                Cases -> check_cases(Cases, Arity, Allowed)
            catch
                error:badarg ->
                    terr("not a valid external term, or it names an undeclared atom", [])
            end;
        Err -> Err
    end.

-spec declare([binary()], #{atom() => []}) -> {ok, #{atom() => []}} | {error, binary()}.
declare([], Allowed) ->
    {ok, Allowed};
declare([Name | _], _) when byte_size(Name) > ?MAX_ATOM_BYTES ->
    terr("atom ~0P is ~b bytes, limit ~b", [Name, 8, byte_size(Name), ?MAX_ATOM_BYTES]);
declare([Name | T], Allowed) ->
    try binary_to_atom(Name, utf8) of
        A -> declare(T, Allowed#{A => []})
    catch
        error:_ -> terr("atom ~0p is not a valid atom name", [Name])
    end.

-spec check_cases(term(), non_neg_integer(), #{atom() => []}) -> {ok, [tcase()]} | {error, binary()}.
check_cases(Cases, Arity, Allowed) ->
    case is_list(Cases) andalso safe_length(Cases) of
        false -> terr("not a list of cases", []);
        improper -> terr("not a proper list of cases", []);
        N when N > ?MAX_TERM_CASES -> terr("~b cases, limit ~b", [N, ?MAX_TERM_CASES]);
        _ -> check_each(Cases, 1, Arity, Allowed)
    end.

-spec check_each(list(), pos_integer(), non_neg_integer(), #{atom() => []}) ->
          {ok, [tcase()]} | {error, binary()}.
check_each([], _, _, _) ->
    {ok, []};
check_each(Cases, I, Arity, Allowed) ->
    check_each(Cases, I, Arity, Allowed, Cases).

-spec check_each(list(), pos_integer(), non_neg_integer(), #{atom() => []}, list()) ->
          {ok, [tcase()]} | {error, binary()}.
check_each([], _, _, _, All) ->
    {ok, All};
check_each([{In, _} = C | T], I, Arity, Allowed, All) when is_list(In) ->
    case safe_length(In) of
        Arity ->
            case plain(C, Allowed) of
                ok -> check_each(T, I + 1, Arity, Allowed, All);
                {bad, What} -> terr("case ~b holds ~s", [I, What])
            end;
        improper -> terr("case ~b: inputs are not a proper list", [I]);
        N -> terr("case ~b has ~b inputs, arity ~b", [I, N, Arity])
    end;
check_each(_, I, _, _, _) ->
    terr("case ~b is not {Inputs, Expected} with a list of inputs", [I]).

-spec safe_length(list()) -> non_neg_integer() | improper.
safe_length(L) ->
    try length(L)
    catch error:badarg -> improper
    end.

%% Only plain data: no funs, pids, ports or references, no undeclared atom.
-spec plain(term(), #{atom() => []}) -> ok | {bad, iodata()}.
plain(X, _) when is_number(X); is_bitstring(X) -> ok;
plain(X, Allowed) when is_atom(X) ->
    case Allowed of
        #{X := _} -> ok;
        _ -> {bad, io_lib:format("the undeclared atom ~0p", [X])}
    end;
plain([H | T], Allowed) ->
    case plain(H, Allowed) of
        ok -> plain(T, Allowed);
        Bad -> Bad
    end;
plain([], _) -> ok;
plain(X, Allowed) when is_tuple(X) -> plain(tuple_to_list(X), Allowed);
plain(X, Allowed) when is_map(X) -> plain(maps:to_list(X), Allowed);
plain(X, _) when is_function(X) -> {bad, "a fun"};
plain(_, _) -> {bad, "a pid, port or reference"}.

-spec terr(io:format(), [term()]) -> {error, binary()}.
terr(Fmt, Args) ->
    {error, iolist_to_binary(["term_cases: ", io_lib:format(Fmt, Args)])}.

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
