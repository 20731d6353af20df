%% petri_cache - results of earlier evaluations in this VM, keyed by a SHA-256
%% of (the SPEC's bytes, the source): an identical genome on an identical spec
%% is answered at once with reused = 1 instead of being compiled and run again.
%%
%% Invariants:
%%  1. One writer: the port owner creates the tables and inserts (it sees every
%%     result); workers only read (a BREED_EVAL's child is known in its worker).
%%  2. Bounded and cheap to evict: two generations of at most ?GEN entries and
%%     ?GEN_WORDS words each. When the new one is full, the old one is dropped
%%     whole and the new one becomes old; a hit in the old one is inserted
%%     again (by the owner), so entries in use survive. At most 2 * ?GEN
%%     entries (4096), at most 2 * ?GEN_WORDS words.
%%  3. Only results that another run would repeat are kept: ok, parse_error,
%%     unsafe, compile_error, crash, bad_result. Never timeout or heap_limit
%%     (the deadline depends on the load, and the heap is sampled every few ms,
%%     so a short peak may or may not be seen), never internal or unsupported
%%     (the VM's state, not the genome).
%%  4. The spec's bytes include its language, limits, cases, evaluator and
%%     cost weights, so anything that changes a result changes the key.
-module(petri_cache).

-export([init/0, key/2, lookup/1, insert/2, cacheable/1, size/0]).
-export_type([key/0, entry/0]).

-define(NEW, petri_cache_new).
-define(OLD, petri_cache_old).
-define(GEN, 2048).             % entries per generation
-define(GEN_WORDS, 8388608).    % words per generation (64 MiB): per-case errors can be long

-type key() :: binary().
%% {Status, Fitness, Detail, Ext} of the evaluation (Ext's reused is false).
-type entry() :: {petri_wire:status(), float() | nan, binary(), petri_wire:ext()}.

%% Creates the tables, owned by the caller (the port owner), unless the VM
%% was started with `-petri_cache off` ([beam] result_cache): then there are
%% no tables, every lookup misses and inserts do nothing.
-spec init() -> ok.
init() ->
    case init:get_argument(petri_cache) of
        {ok, [["off"] | _]} -> ok;
        _ ->
            _ = ets:new(?NEW, [named_table, protected, set, {read_concurrency, true}]),
            _ = ets:new(?OLD, [named_table, protected, set, {read_concurrency, true}]),
            ok
    end.

%% The key of Source under Spec: the SPEC's bytes as received when the spec
%% was decoded from a frame, else the decoded spec.
-spec key(petri_wire:spec(), binary()) -> key().
key(Spec, Source) ->
    SpecBytes = case Spec of
                    #{raw := Raw} -> Raw;
                    _ -> term_to_binary(Spec)
                end,
    crypto:hash(sha256, [<<(byte_size(SpecBytes)):32>>, SpecBytes, Source]).

%% Never raises: no tables (a test, or not started) is a miss.
-spec lookup(key()) -> {ok, entry()} | miss.
lookup(Key) ->
    try
        case ets:lookup(?NEW, Key) of
            [{_, E}] -> {ok, E};
            [] ->
                case ets:lookup(?OLD, Key) of
                    [{_, E}] -> {ok, E};
                    [] -> miss
                end
        end
    catch
        error:badarg -> miss
    end.

%% Inserts (owner only); entries whose status is not cacheable are ignored.
-spec insert(key(), entry()) -> ok.
insert(Key, {Status, _, _, _} = Entry) ->
    case cacheable(Status) andalso ets:whereis(?NEW) =/= undefined of
        true ->
            rotate(ets:info(?NEW, size) >= ?GEN orelse ets:info(?NEW, memory) >= ?GEN_WORDS),
            true = ets:insert(?NEW, {Key, Entry}),
            ok;
        false -> ok
    end.

-spec rotate(boolean()) -> ok.
rotate(false) -> ok;
rotate(true) ->
    true = ets:delete(?OLD),
    _ = ets:rename(?NEW, ?OLD),
    _ = ets:new(?NEW, [named_table, protected, set, {read_concurrency, true}]),
    ok.

-spec cacheable(petri_wire:status()) -> boolean().
cacheable(S) ->
    lists:member(S, [ok, parse_error, unsafe, compile_error, crash, bad_result]).

%% Entries held (both generations).
-spec size() -> non_neg_integer().
size() ->
    case ets:whereis(?NEW) of
        undefined -> 0;
        _ -> ets:info(?NEW, size) + ets:info(?OLD, size)
    end.
