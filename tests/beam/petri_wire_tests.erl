%% petri_wire_tests - round trips of every VM message and garbage resistance.
-module(petri_wire_tests).
-include_lib("eunit/include/eunit.hrl").

spec() ->
    petri_spec:new(#{vars => [<<"X">>], ops => [<<"+">>, <<"math:sin/1">>],
                     cases => [{[1], 2}, {[-3], 1.5}], heap_words => 1 bsl 40,
                     reductions => 7, timeout_ms => 99, error => 1, const_int => false}).

ext() ->
    #{passed => 3, cases => 4, cost => 12.5, reused => true,
      metrics => [{<<"reductions">>, 100.0}, {<<"heap_words">>, 233.0}, {<<"eval_us">>, 7.0},
                  {<<"steps">>, -1.5}],
      errors => [0.0, 1.0, 0.25, 2.0]}.

%% A spec with every appended field set: term cases of tuples, maps with binary
%% keys, charlists and declared atoms.
term_spec() ->
    Cases = [{[[3, 1, 2]], [1, 2, 3]},
             {[{point, 1.5, -2}], #{<<"x">> => 1.5, <<"tag">> => ok}},
             {["abc"], {ok, <<"cba">>}},
             {[nil], [true, false, error]}],
    petri_spec:new(#{term_cases => {ok, Cases}, atoms => [<<"ok">>, <<"error">>, <<"point">>],
                     float_tol => 1.0e-6, mismatch_error => 3.0,
                     evaluator => <<"-module(ev).">>, evaluator_lang => 1, cost_mode => 2,
                     cost_w => {0.001, 0.5, 2.0}, per_case => true, split_tuples => true}).

roundtrip(Msg) ->
    ?assertEqual({ok, Msg}, unraw(petri_wire:decode(petri_wire:encode(Msg)))).

%% A decoded spec also carries its bytes (raw); the messages built here do not.
unraw({ok, {K, Id, Spec, A}}) when is_map(Spec) -> {ok, {K, Id, maps:remove(raw, Spec), A}};
unraw({ok, {K, Id, Spec, A, B, C}}) when is_map(Spec) -> {ok, {K, Id, maps:remove(raw, Spec), A, B, C}};
unraw(R) -> R.

roundtrip_test_() ->
    Msgs = [{hello, #{otp_release => <<"25">>, os_pid => 4242, slots => 10000,
                      elixir => true, version => <<"0.1.0">>,
                      breeder => <<1:128>>}},
            {ping, 16#FFFFFFFFFFFFFFFF},
            {pong, #{seq => 1, memory => 2, processes => 3, atoms => 4, live => 5,
                     loads => 6, pending_purge => 7, evals_ok => 8, evals_failed => 9}},
            {eval, 12, spec(), <<"-module(g).">>},
            {eval, 19, term_spec(), <<"-module(g).">>},
            {breed_eval, 20, term_spec(), <<"point">>, 5, [<<"p">>]},
            {result, 12, ok, 1.5, <<"">>, 10, 20, ext()},
            {result, 13, timeout, nan, <<"deadline">>, 10, 20, petri_wire:default_ext()},
            {breed, 14, spec(), <<"crossover">>, 77, [<<"a">>, <<"bb">>]},
            {breed, 15, spec(), <<"random">>, 0, []},
            {child, 14, ok, <<"src">>, <<>>},
            {child, 16, unsupported, <<>>, <<"unknown operator">>},
            {breed_eval, 17, spec(), <<"point">>, 5, [<<"p">>]},
            {bred, 17, ok, 2.5, <<>>, 30, 40, <<"child src">>, ext()},
            {bred, 18, parse_error, nan, <<"parent 1: line 2">>, 0, 0, <<>>, petri_wire:default_ext()},
            stop],
    [?_test(roundtrip(M)) || M <- Msgs].

%% A hello from a VM before the breeder field decodes with an unknown one.
hello_without_breeder_test() ->
    H = #{otp_release => <<"25">>, os_pid => 1, slots => 2, elixir => false,
          version => <<"0.1.0">>, breeder => <<7:128>>},
    <<Hdr:20/binary, Len:32, P/binary>> = petri_wire:encode({hello, H}),
    Old = <<Hdr/binary, (Len - 16):32, (binary:part(P, 0, byte_size(P) - 16))/binary>>,
    ?assertEqual({ok, {hello, H#{breeder => <<0:128>>}}}, petri_wire:decode(Old)).

header_test() ->
    <<1, 0, 2, 0, Sender:16/binary, 8:32, 42:64>> = petri_wire:encode({ping, 42}),
    ?assertEqual(<<0:128>>, Sender).

status_codes_test() ->
    [?assertEqual(S, petri_wire:status_name(petri_wire:status_code(S)))
     || S <- [ok, parse_error, unsafe, compile_error, timeout, heap_limit, crash,
              bad_result, unsupported, internal, vm_killed]],
    ?assertEqual(6, petri_wire:status_code(crash)),
    ?assertEqual(10, petri_wire:status_code(vm_killed)),
    ?assertEqual(unknown, petri_wire:status_name(11)).

errors_test() ->
    Ping = petri_wire:encode({ping, 1}),
    ?assertEqual({error, {bad_version, 2}}, petri_wire:decode(<<2, (binary:part(Ping, 1, 31))/binary>>)),
    ?assertEqual({error, truncated}, petri_wire:decode(binary:part(Ping, 0, 30))),
    ?assertEqual({error, trailing_bytes}, petri_wire:decode(<<Ping/binary, 0>>)),
    ?assertEqual({error, truncated}, petri_wire:decode(<<1, 0>>)),
    ?assertEqual({unknown, 999}, petri_wire:decode(<<1, 999:16, 0, 0:128, 0:32>>)),
    %% a PING whose payload is too short for its seq
    ?assertEqual({error, truncated}, petri_wire:decode(<<1, 2:16, 0, 0:128, 4:32, 0:32>>)),
    %% trailing bytes inside a payload are ignored
    ?assertEqual({ok, {ping, 5}}, petri_wire:decode(<<1, 2:16, 0, 0:128, 10:32, 5:64, 0:16>>)),
    %% list count larger than the bytes left
    Huge = <<0:64, 1:32, "f", 1:32, 0, 0:32, 0:64, 0:64, 16#FFFFFFFF:32>>,
    ?assertEqual({error, truncated},
                 petri_wire:decode(<<1, 4:16, 0, 0:128, (byte_size(Huge)):32, Huge/binary>>)),
    %% NUL inside a str is malformed
    Nul = <<7:64, 0, 0:64, 1:32, 0, 0:64, 0:64>>,
    ?assertEqual({error, nul_in_str},
                 petri_wire:decode(<<1, 5:16, 0, 0:128, (byte_size(Nul)):32, Nul/binary>>)).

sanitize_test() ->
    B = petri_wire:encode({result, 1, crash, nan, <<"a", 0, "b">>, 0, 0, petri_wire:default_ext()}),
    ?assertMatch({ok, {result, 1, crash, nan, <<"a?b">>, 0, 0, _}}, petri_wire:decode(B)).

%% Random bytes, and every prefix/mutation of valid frames, never crash.
garbage_test() ->
    S0 = rand:seed_s(exsss, 1),
    Frames = [petri_wire:encode(M) || M <- [{eval, 1, spec(), <<"x">>},
                                             {breed, 2, spec(), <<"point">>, 3, [<<"p">>]}]],
    {_, Checked} = lists:foldl(
        fun(_, {S, N}) ->
            {Len, S1} = rand:uniform_s(200, S),
            {Bytes, S2} = rand:bytes_s(Len, S1),
            {Which, S3} = rand:uniform_s(2, S2),
            F = lists:nth(Which, Frames),
            {Pos, S4} = rand:uniform_s(byte_size(F), S3),
            <<Pre:(Pos - 1)/binary, _, Post/binary>> = F,
            Mut = <<Pre/binary, (binary:first(<<Bytes/binary, 0>>)), Post/binary>>,
            [check(X) || X <- [Bytes, <<1, Bytes/binary>>, Mut, binary:part(F, 0, Pos)]],
            {S4, N + 1}
        end, {S0, 0}, lists:seq(1, 3000)),
    ?assertEqual(3000, Checked).

check(B) ->
    R = petri_wire:decode(B),
    ?assert(element(1, R) =:= ok orelse element(1, R) =:= error orelse element(1, R) =:= unknown).

%% The SPEC of an older writer (no appended fields) decodes with the defaults.
old_spec_test() ->
    Full = petri_wire:encode_spec(spec()),
    %% the appended fields are the last 4+4+8+8+4+1+1+24+1+1 = 56 bytes here
    Old = binary:part(Full, 0, byte_size(Full) - 56),
    {ok, S} = petri_wire:decode_spec(Old),
    ?assertEqual(spec(), maps:remove(raw, S)),
    ?assertMatch(#{term_cases := none, atoms := [], float_tol := 0.0, mismatch_error := 1.0,
                   evaluator := <<>>, evaluator_lang := 0, cost_mode := 0,
                   cost_w := {0.0, 0.0, 0.0}, per_case := false, split_tuples := false,
                   raw := Old}, S),
    %% cut inside the appended fields: the rest take their defaults
    {ok, S2} = petri_wire:decode_spec(binary:part(Full, 0, byte_size(Full) - 56 + 4 + 4 + 8)),
    ?assertMatch(#{float_tol := 0.0, mismatch_error := 1.0}, S2),
    ?assertEqual({ok, term_spec()}, unraw_spec(petri_wire:decode_spec(petri_wire:encode_spec(term_spec())))).

unraw_spec({ok, S}) -> {ok, maps:remove(raw, S)}.

%% An older RESULT/BRED (no RESULT_EXT) decodes with the default ext.
old_result_test() ->
    Plain = petri_wire:encode({result, 1, ok, 1.0, <<>>, 2, 3, petri_wire:default_ext()}),
    %% RESULT_EXT with no metrics and no errors: 4 + 4 + 8 + 1 + 4 + 4 bytes
    {ok, {result, 1, ok, 1.0, <<>>, 2, 3, Ext}} = petri_wire:decode(refit(Plain, 25)),
    ?assertEqual(petri_wire:default_ext(), Ext),
    B = petri_wire:encode({bred, 1, ok, 1.0, <<>>, 2, 3, <<"c">>, petri_wire:default_ext()}),
    ?assertMatch({ok, {bred, 1, ok, 1.0, <<>>, 2, 3, <<"c">>, #{reused := false}}},
                 petri_wire:decode(refit(B, 25))).

%% Drops N bytes from the payload's end and fixes the header's length.
refit(<<H:20/binary, Len:32, P/binary>>, N) ->
    <<H/binary, (Len - N):32, (binary:part(P, 0, Len - N))/binary>>.

term_cases_test() ->
    Cases = [{[[1, 2]], {ok, "ab"}}, {[#{<<"k">> => [1.5]}], nil}],
    ?assertEqual({ok, Cases},
                 petri_wire:term_cases(term_to_binary(Cases), [<<"ok">>], 1)),
    ?assertEqual(none, petri_wire:term_cases(<<>>, [], 1)),
    %% wrong arity, wrong shape, garbage, a fun, a pid, too many atoms, long names
    ?assertEqual({error, <<"term_cases: case 2 has 2 inputs, arity 1">>},
                 petri_wire:term_cases(term_to_binary([{[1], 1}, {[1, 2], 3}]), [], 1)),
    ?assertEqual({error, <<"term_cases: not a list of cases">>},
                 petri_wire:term_cases(term_to_binary({[1], 1}), [], 1)),
    ?assertMatch({error, <<"term_cases: case 1 is not {Inputs, Expected}", _/binary>>},
                 petri_wire:term_cases(term_to_binary([{1, 1}]), [], 1)),
    ?assertMatch({error, <<"term_cases: not a valid external term", _/binary>>},
                 petri_wire:term_cases(<<131, 1, 2, 3>>, [], 1)),
    ?assertMatch({error, <<"term_cases: case 1 holds a fun">>},
                 petri_wire:term_cases(term_to_binary([{[fun() -> ok end], 1}]), [], 1)),
    ?assertMatch({error, <<"term_cases: case 1 holds a pid", _/binary>>},
                 petri_wire:term_cases(term_to_binary([{[self()], 1}]), [], 1)),
    ?assertMatch({error, <<"term_cases: 257 atoms declared, limit 256">>},
                 petri_wire:term_cases(term_to_binary([]), lists:duplicate(257, <<"a">>), 1)),
    ?assertMatch({error, <<"term_cases: atom ", _/binary>>},
                 petri_wire:term_cases(term_to_binary([]), [binary:copy(<<"a">>, 256)], 1)),
    %% an existing atom that the spec did not declare is refused too
    ?assertEqual({error, <<"term_cases: case 1 holds the undeclared atom error">>},
                 petri_wire:term_cases(term_to_binary([{[error], 1}]), [], 1)).

%% An atom the spec did not declare is rejected, never created.
undeclared_atom_test() ->
    %% a first pass loads whatever the path needs (loading code creates atoms)
    undeclared(<<"petri_never_declared_atom_warm_7f3a">>),
    Name = <<"petri_never_declared_atom_7f3a">>,
    N = erlang:system_info(atom_count),
    Bytes = undeclared(Name),
    ?assertEqual(N, erlang:system_info(atom_count)),
    ?assertError(badarg, binary_to_existing_atom(Name, utf8)),
    %% declared, it is created and accepted
    ?assertMatch({ok, [{[], _}]}, petri_wire:term_cases(Bytes, [Name], 0)),
    ?assertEqual(N + 1, erlang:system_info(atom_count)).

undeclared(Name) ->
    %% [{[], Name}] written by hand (term_to_binary would create the atom)
    Bytes = <<131, 108, 1:32, 104, 2, 106, 119, (byte_size(Name)), Name/binary, 106>>,
    ?assertMatch({error, <<"term_cases: not a valid external term, or it names an undeclared atom">>},
                 petri_wire:term_cases(Bytes, [], 0)),
    %% through a whole EVAL frame: the frame decodes, its spec carries the error
    Spec = maps:remove(term_cases, petri_spec:new(#{arity => 0, vars => []})),
    {ok, {eval, 1, S, <<"src">>}} = petri_wire:decode(eval_frame(Spec#{term_cases => none}, Bytes, <<"src">>)),
    ?assertMatch({error, _}, maps:get(term_cases, S)),
    ?assertMatch({error, <<"spec: term_cases: ", _/binary>>}, petri_spec:validate(S)),
    Bytes.

%% An EVAL frame whose spec carries the raw term_cases Bytes (the appended
%% fields of a spec without term cases are 56 bytes, term_cases first).
eval_frame(Spec, Bytes, Src) ->
    S = petri_wire:encode_spec(Spec),
    Base = binary:part(S, 0, byte_size(S) - 56),
    <<0:32, After/binary>> = binary:part(S, byte_size(S) - 56, 56),
    P = <<1:64, Base/binary, (byte_size(Bytes)):32, Bytes/binary, After/binary,
          (byte_size(Src)):32, Src/binary>>,
    <<1, 4:16, 0, 0:128, (byte_size(P)):32, P/binary>>.

%% Garbage after valid term-spec frames and RESULT_EXT: never a crash.
ext_garbage_test() ->
    Frames = [petri_wire:encode(M) || M <- [{eval, 1, term_spec(), <<"x">>},
                                             {result, 1, ok, 1.0, <<>>, 1, 2, ext()},
                                             {bred, 1, ok, 1.0, <<>>, 1, 2, <<"c">>, ext()}]],
    S0 = rand:seed_s(exsss, 2),
    lists:foldl(
      fun(_, S) ->
              {Which, S1} = rand:uniform_s(length(Frames), S),
              F = lists:nth(Which, Frames),
              {Pos, S2} = rand:uniform_s(byte_size(F), S1),
              {Byte, S3} = rand:uniform_s(256, S2),
              <<Pre:(Pos - 1)/binary, _, Post/binary>> = F,
              [check(X) || X <- [<<Pre/binary, (Byte - 1), Post/binary>>, binary:part(F, 0, Pos),
                                 refit(F, min(Pos, byte_size(F) - 24))]],
              S3
      end, S0, lists:seq(1, 3000)),
    ok.

%% VM frames whose inline SPEC comes from an older writer (no appended fields).
old_layout_frames_test() ->
    Full = petri_wire:encode_spec(spec()),
    Old = binary:part(Full, 0, byte_size(Full) - 56),
    Src = <<"-module(g).">>,
    Eval = frame(4, <<7:64, Old/binary, (byte_size(Src)):32, Src/binary>>),
    {ok, {eval, 7, S, Src}} = petri_wire:decode(Eval),
    ?assertEqual(spec(), maps:remove(raw, S)),
    ?assertEqual(Old, maps:get(raw, S)),
    Breed = <<8:64, Old/binary, 5:32, "point", 99:64, 2:32, 1:32, "p", 2:32, "qq">>,
    ?assertMatch({ok, {breed_eval, 8, _, <<"point">>, 99, [<<"p">>, <<"qq">>]}},
                 petri_wire:decode(frame(9, Breed))),
    ?assertMatch({ok, {breed, 8, _, <<"point">>, 99, [<<"p">>, <<"qq">>]}},
                 petri_wire:decode(frame(6, Breed))),
    %% the current layout is not mistaken for the old one
    {ok, {eval, 7, T, Src}} = petri_wire:decode(petri_wire:encode({eval, 7, term_spec(), Src})),
    ?assertEqual(term_spec(), maps:remove(raw, T)),
    %% truncated either way: an error
    ?assertEqual({error, truncated}, petri_wire:decode(frame(4, binary:part(Eval, 24, 40)))).

frame(Type, P) -> <<1, Type:16, 0, 0:128, (byte_size(P)):32, P/binary>>.
