%% petri_bench_sandboxes - the VM side of bench_sandboxes.py (compiled at run
%% time): fills N sandbox slots with distinct loaded genomes, then measures the
%% latency of further evaluations with the petri loader and evaluator, exactly
%% as petri_node's workers run them (each job in a fresh process). Prints one line of Erlang terms to stdout.
-module(petri_bench_sandboxes).

-export([main/0, paired/0]).

main() ->
    {ok, [[NS]]} = init:get_argument(bench_live),
    {ok, [[MS]]} = init:get_argument(bench_samples),
    N = list_to_integer(NS),
    M = list_to_integer(MS),
    Spec = spec(),
    Rand0 = rand:seed_s(exsss, {N, 7, 11}),
    %% fill slots 0..N-1, each with its own genome, evaluated once
    T0 = now_us(),
    {Rand1, _} = lists:foldl(fun(K, {R, Seen}) ->
                                     {Src, R2, Seen2} = genome(R, Seen),
                                     {ok, _, _, _, _} = job(Spec, Src, petri_slots:module(K)),
                                     {R2, Seen2}
                             end, {Rand0, #{}}, lists:seq(0, N - 1)),
    FillUs = now_us() - T0,
    Live = length([K || K <- lists:seq(0, N - 1), erlang:module_loaded(petri_slots:module(K))]),
    %% new genomes: load into a live slot (hot-replacing its genome) and score;
    %% the old code is purged afterwards, off the clock, as petri_node's purger does
    Targets = [petri_slots:module(I rem N) || I <- lists:seq(0, M - 1)],
    {_, New} = lists:foldl(fun(Mod, {R, Acc}) ->
                                   {Src, R2, _} = genome(R, #{}),
                                   A = now_us(),
                                   {St, _, _, LoadUs, EvalUs} = job(Spec, Src, Mod),
                                   B = now_us(),
                                   C = now_us(),
                                   _ = erlang:check_old_code(Mod) andalso erlang:purge_module(Mod),
                                   P = now_us() - C,
                                   {R2, [{B - A, LoadUs, EvalUs, P, St} | Acc]}
                           end, {Rand1, []}, Targets),
    %% the same, 8 new genomes at a time with one code-loading commit for the 8
    %% (erlang:prepare_loading/2 each, one erlang:finish_loading/1): per genome
    {_, New8} = lists:foldl(
                  fun(G, {R, Acc}) ->
                          {Srcs, R2} = lists:foldl(fun(_, {L, Rx}) ->
                                                           {S, Rx2, _} = genome(Rx, #{}),
                                                           {[S | L], Rx2}
                                                   end, {[], R}, G),
                          A = now_us(),
                          Bins = [begin
                                      {ok, Forms} = petri_loader:prepare(Spec, Src),
                                      {ok, Bin} = compile(Forms, Mod),
                                      {Mod, Bin}
                                  end || {Src, Mod} <- lists:zip(Srcs, G)],
                          ok = erlang:finish_loading([erlang:prepare_loading(Mod, Bin) || {Mod, Bin} <- Bins]),
                          [{ok, _, _, _} = petri_eval:run(Mod, Spec) || Mod <- G],
                          T = (now_us() - A) / length(G),
                          [purge(Mod) || Mod <- G],
                          {R2, [T | Acc]}
                  end, {rand:seed_s(exsss, {N, 13, 17}), []},
                  [[petri_slots:module((I * 8 + J) rem N) || J <- lists:seq(0, 7)]
                   || I <- lists:seq(0, max(1, M div 8) - 1)]),
    %% a stream of new genomes with P requests in flight, as the agent
    %% pipelines them to a VM ([beam] pipeline, default 4): each request in its
    %% own process on its own live slot; latency from its start to its result
    Stream = [{P, stream(Spec, N, P, M, rand:seed_s(exsss, {N, 19, P}))} || P <- [2, 4]],
    %% re-evaluations of genomes that are already loaded (no load at all)
    Re = [begin
              Mod = petri_slots:module(I rem N),
              A = now_us(),
              {ok, _, _, _} = petri_eval:run(Mod, Spec),
              now_us() - A
          end || I <- lists:seq(0, 2 * M - 1)],
    %% code loading alone, one module per commit vs 8 per commit
    %% (erlang:prepare_loading/2 + one erlang:finish_loading/1)
    Bins = [begin
                {Src, _, _} = genome(rand:seed_s(exsss, {I, 3, 5}), #{}),
                {ok, Forms} = petri_loader:prepare(Spec, Src),
                Mod = petri_slots:module(I rem N),
                {ok, Bin} = compile(Forms, Mod),
                {Mod, Bin}
            end || I <- lists:seq(0, 7)],
    Single = [begin
                  [purge(Mod) || {Mod, _} <- Bins],
                  A = now_us(),
                  [{module, _} = erlang:load_module(Mod, Bin) || {Mod, Bin} <- Bins],
                  (now_us() - A) / length(Bins)
              end || _ <- lists:seq(1, max(3, M div 16))],
    Batch = [begin
                 [purge(Mod) || {Mod, _} <- Bins],
                 A = now_us(),
                 ok = erlang:finish_loading([erlang:prepare_loading(Mod, Bin) || {Mod, Bin} <- Bins]),
                 (now_us() - A) / length(Bins)
             end || _ <- lists:seq(1, max(3, M div 16))],
    Out = #{live => Live, fill_us => FillUs, modules => length(erlang:loaded()), new8_us => New8,
            processes => erlang:system_info(process_count),
            new_us => [T || {T, _, _, _, _} <- New], new_load_us => [L || {_, L, _, _, _} <- New],
            new_eval_us => [E || {_, _, E, _, _} <- New], purge_us => [P || {_, _, _, P, _} <- New],
            new_ok => length([ok || {_, _, _, _, ok} <- New]),
            re_us => Re, load1_us => Single, load8_us => Batch,
            stream2_us => proplists:get_value(2, Stream),
            stream4_us => proplists:get_value(4, Stream),
            memory => erlang:memory(total)},
    io:format("~w.~n", [Out]),
    halt(0).

%% Paired mode (-s petri_bench_sandboxes paired): fills the slots, prints
%% "ready", then serves commands from stdin, one per line, so that two VMs
%% (10 and 10,000 live) can be driven alternately and share the machine's
%% noise: "new" loads a new genome into a live slot and scores it (printing
%% "new <microseconds>"; the old code is purged afterwards, off the clock),
%% "re" scores a loaded genome again ("re <microseconds>"), "quit" halts.
paired() ->
    {ok, [[NS]]} = init:get_argument(bench_live),
    N = list_to_integer(NS),
    Spec = spec(),
    {R1, _} = lists:foldl(fun(K, {R, Seen}) ->
                                  {Src, R2, Seen2} = genome(R, Seen),
                                  {ok, _, _, _, _} = job(Spec, Src, petri_slots:module(K)),
                                  {R2, Seen2}
                          end, {rand:seed_s(exsss, {N, 7, 11}), #{}}, lists:seq(0, N - 1)),
    io:format("ready ~b~n", [length(erlang:loaded())]),
    serve(Spec, N, 0, R1).

serve(Spec, N, I, R) ->
    case io:get_line(standard_io, "") of
        "new\n" ->
            Mod = petri_slots:module(I rem N),
            {Src, R2, _} = genome(R, #{}),
            A = now_us(),
            {ok, _, _, _, _} = job(Spec, Src, Mod),
            T = now_us() - A,
            purge(Mod),
            io:format("new ~b~n", [T]),
            serve(Spec, N, I + 1, R2);
        "re\n" ->
            Mod = petri_slots:module((I * 7) rem N),
            A = now_us(),
            {ok, _, _, _} = petri_eval:run(Mod, Spec),
            io:format("re ~b~n", [now_us() - A]),
            serve(Spec, N, I + 1, R);
        _ ->
            halt(0)
    end.

%% petri_loader:compile/2, or the compiler itself on builds that lack it
compile(Forms, Mod) ->
    case erlang:function_exported(petri_loader, compile, 2) of
        true -> petri_loader:compile(Forms, Mod);
        false ->
            {ok, Mod, Bin} = compile:forms(petri_loader:rename(Forms, Mod),
                                           [binary, return_errors, no_spawn_compiler_process,
                                            no_ssa_opt, no_bool_opt, no_copt, no_recv_opt,
                                            no_bsm_opt, no_share_opt, no_type_opt]),
            {ok, Bin}
    end.

%% M new genomes through P concurrent requests (a new one starts when one
%% ends); returns each request's latency in microseconds.
stream(Spec, N, P, M, R0) ->
    {Srcs, _} = lists:foldl(fun(_, {L, R}) -> {S, R2, _} = genome(R, #{}), {[S | L], R2} end,
                            {[], R0}, lists:seq(1, M)),
    Self = self(),
    Start = fun(Src, I) ->
                    Mod = petri_slots:module(I rem N),
                    spawn(fun() ->
                                  A = now_us(),
                                  {St, _, _, _, _} = job(Spec, Src, Mod),
                                  T = now_us() - A,
                                  purge(Mod),
                                  Self ! {stream_done, T, St}
                          end)
            end,
    {First, Rest} = lists:split(P, lists:zip(Srcs, lists:seq(0, M - 1))),
    [Start(S, I) || {S, I} <- First],
    stream_wait(Start, Rest, M, []).

stream_wait(_, _, 0, Acc) -> Acc;
stream_wait(Start, Rest, Left, Acc) ->
    receive
        {stream_done, T, ok} ->
            Rest2 = case Rest of
                        [{S, I} | R] -> Start(S, I), R;
                        [] -> []
                    end,
            stream_wait(Start, Rest2, Left - 1, [T | Acc])
    end.

purge(Mod) ->
    _ = erlang:check_old_code(Mod) andalso erlang:purge_module(Mod),
    ok.

%% In a fresh process, as petri_node's workers run it: the compiler's garbage
%% then never meets this process's heap (which holds every source of the fill).
job(Spec, Src, Mod) ->
    Self = self(),
    Ref = make_ref(),
    _ = spawn(fun() -> Self ! {Ref, petri_eval:job(Spec, Src, Mod)} end),
    receive {Ref, R} -> R end.

spec() ->
    petri_spec:new(#{cases => [{[X], X * X + 2 * X - 1} || X <- lists:seq(-10, 10)],
                     timeout_ms => 500, heap_words => 262144, reductions => 1000000}).

%% A random distinct genome source (seeded; the same N gives the same genomes).
genome(R, Seen) ->
    {E, R2} = expr(R, 5),
    Src = iolist_to_binary(["-module(genome).\n-export([f/1]).\n\nf(X) ->\n    ", E, ".\n"]),
    case Seen of
        #{Src := _} -> genome(R2, Seen);
        _ -> {Src, R2, Seen#{Src => true}}
    end.

expr(R, 0) -> leaf(R);
expr(R, D) ->
    {U, R1} = rand:uniform_s(R),
    case U < 0.3 of
        true -> leaf(R1);
        false ->
            {A, R2} = expr(R1, D - 1),
            {B, R3} = expr(R2, D - 1),
            {Op, R4} = rand:uniform_s(3, R3),
            {["(", A, lists:nth(Op, [" + ", " - ", " * "]), B, ")"], R4}
    end.

leaf(R) ->
    {U, R1} = rand:uniform_s(R),
    case U < 0.5 of
        true -> {"X", R1};
        false ->
            {C, R2} = rand:uniform_s(11, R1),
            {integer_to_list(C - 6), R2}
    end.

now_us() -> erlang:monotonic_time(microsecond).
