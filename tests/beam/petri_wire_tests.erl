%% petri_wire_tests - round trips of every VM message and garbage resistance.
-module(petri_wire_tests).
-include_lib("eunit/include/eunit.hrl").

spec() ->
    petri_spec:new(#{vars => [<<"X">>], ops => [<<"+">>, <<"math:sin/1">>],
                     cases => [{[1], 2}, {[-3], 1.5}], heap_words => 1 bsl 40,
                     reductions => 7, timeout_ms => 99, error => 1, const_int => false}).

roundtrip(Msg) ->
    ?assertEqual({ok, Msg}, petri_wire:decode(petri_wire:encode(Msg))).

roundtrip_test_() ->
    Msgs = [{hello, #{otp_release => <<"25">>, os_pid => 4242, slots => 10000,
                      elixir => true, version => <<"0.1.0">>}},
            {ping, 16#FFFFFFFFFFFFFFFF},
            {pong, #{seq => 1, memory => 2, processes => 3, atoms => 4, live => 5,
                     loads => 6, pending_purge => 7, evals_ok => 8, evals_failed => 9}},
            {eval, 12, spec(), <<"-module(g).">>},
            {result, 12, ok, 1.5, <<"">>, 10, 20},
            {result, 13, timeout, nan, <<"deadline">>, 10, 20},
            {breed, 14, spec(), <<"crossover">>, 77, [<<"a">>, <<"bb">>]},
            {breed, 15, spec(), <<"random">>, 0, []},
            {child, 14, ok, <<"src">>, <<>>},
            {child, 16, unsupported, <<>>, <<"unknown operator">>},
            {breed_eval, 17, spec(), <<"point">>, 5, [<<"p">>]},
            {bred, 17, ok, 2.5, <<>>, 30, 40, <<"child src">>},
            {bred, 18, parse_error, nan, <<"parent 1: line 2">>, 0, 0, <<>>},
            stop],
    [?_test(roundtrip(M)) || M <- Msgs].

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
    B = petri_wire:encode({result, 1, crash, nan, <<"a", 0, "b">>, 0, 0}),
    ?assertMatch({ok, {result, 1, crash, nan, <<"a?b">>, 0, 0}}, petri_wire:decode(B)).

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
