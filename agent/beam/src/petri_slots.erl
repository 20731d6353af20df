%% petri_slots - slot allocation, a pure data structure owned by petri_node.
%% Slot K is module petri_sK. Each slot is in exactly one state:
%%
%%   fresh --alloc--> busy --release(no old code)--> clean --alloc--> busy
%%                     |                                ^
%%                     +--release(old code)--> dirty --take_dirty--> purging
%%                                                      purged/2 ----+
%%
%% Invariants:
%%  1. A busy slot belongs to exactly one request; nothing else loads it.
%%  2. Only fresh and clean slots (no old code) are handed out, so a load never
%%     fails with not_purged and never waits for a purge while one is free.
%%     Clean slots go first (least recently used), fresh ones only when no
%%     clean slot is left: every code load in BEAM copies the module and export
%%     tables (staging), so its cost grows with the number of distinct modules
%%     ever loaded (measured on OTP 25: ~0.25 ms with few, ~0.75 ms with 5000
%%     more). Reusing slots keeps that number at the working set (requests in
%%     flight + slots awaiting a purge), not at the slot count.
%%  3. dirty slots are purged in batches (take_dirty/1) by one purger process,
%%     only after the evaluation processes on them have ended.
%%  4. live = slots whose module holds loaded code (it stays after evaluation).
-module(petri_slots).

-export([new/1, alloc/1, release/4, take_dirty/1, purged/2, module/1,
         live/1, pending_purge/1, dirty_count/1, free_count/1, size/1]).
-export_type([slots/0]).

-record(slots, {
    n :: pos_integer(),
    fresh :: [non_neg_integer()],                % never loaded, lowest first
    clean :: queue:queue(non_neg_integer()),     % loaded, no old code
    dirty = [] :: [non_neg_integer()],           % old code, waiting for a purge
    purging = #{} :: #{non_neg_integer() => true},  % handed to the purger
    nfresh :: non_neg_integer(),
    ndirty = 0 :: non_neg_integer(),
    busy = #{} :: #{non_neg_integer() => boolean()},  % slot => was loaded before
    live = 0 :: non_neg_integer()
}).
-opaque slots() :: #slots{}.

-spec new(pos_integer()) -> slots().
new(N) when is_integer(N), N > 0 ->
    #slots{n = N, fresh = lists:seq(0, N - 1), nfresh = N, clean = queue:new()}.

%% The module name of slot K (atoms bounded by the slot count).
-spec module(non_neg_integer()) -> module().
module(K) -> list_to_atom("petri_s" ++ integer_to_list(K)).

-spec alloc(slots()) -> {ok, non_neg_integer(), slots()} | none.
alloc(#slots{clean = Q, busy = B} = S) ->
    case queue:out(Q) of
        {{value, K}, Q2} -> {ok, K, S#slots{clean = Q2, busy = B#{K => true}}};
        {empty, _} -> alloc_fresh(S)
    end.

-spec alloc_fresh(slots()) -> {ok, non_neg_integer(), slots()} | none.
alloc_fresh(#slots{fresh = [K | T], nfresh = NF, busy = B} = S) ->
    {ok, K, S#slots{fresh = T, nfresh = NF - 1, busy = B#{K => false}}};
alloc_fresh(_) ->
    none.

%% Returns a busy slot. Loaded: the slot's module now holds code; HasOld: it
%% also holds old code (erlang:check_old_code/1 after the eval has ended).
-spec release(non_neg_integer(), boolean(), boolean(), slots()) -> slots().
release(K, Loaded, HasOld, #slots{busy = B, live = Live} = S) ->
    case maps:take(K, B) of
        {WasLive, B2} ->
            S2 = S#slots{busy = B2},
            S3 = case {WasLive, Loaded} of
                     {false, true} -> S2#slots{live = Live + 1};
                     _ -> S2
                 end,
            IsLive = WasLive orelse Loaded,
            if
                HasOld -> S3#slots{dirty = [K | S3#slots.dirty], ndirty = S3#slots.ndirty + 1};
                IsLive -> S3#slots{clean = queue:in(K, S3#slots.clean)};
                true -> S3#slots{fresh = [K | S3#slots.fresh], nfresh = S3#slots.nfresh + 1}
            end;
        error ->
            erlang:error({slot_not_busy, K})
    end.

%% Moves every dirty slot to purging and returns them (one purge batch).
-spec take_dirty(slots()) -> {[non_neg_integer()], slots()}.
take_dirty(#slots{dirty = D, purging = P} = S) ->
    {D, S#slots{dirty = [], ndirty = 0, purging = maps:merge(P, maps:from_keys(D, true))}}.

%% The purger reports {Slot, StillHasOld} for a batch.
-spec purged([{non_neg_integer(), boolean()}], slots()) -> slots().
purged(Results, S0) ->
    lists:foldl(fun({K, StillOld}, #slots{purging = P} = S) ->
                        S1 = S#slots{purging = maps:remove(K, P)},
                        case StillOld of
                            true -> S1#slots{dirty = [K | S1#slots.dirty], ndirty = S1#slots.ndirty + 1};
                            false -> S1#slots{clean = queue:in(K, S1#slots.clean)}
                        end
                end, S0, Results).

-spec live(slots()) -> non_neg_integer().
live(#slots{live = L}) -> L.

-spec pending_purge(slots()) -> non_neg_integer().
pending_purge(#slots{ndirty = D, purging = P}) -> D + map_size(P).

-spec dirty_count(slots()) -> non_neg_integer().
dirty_count(#slots{ndirty = D}) -> D.

%% Slots that alloc/1 could hand out now.
-spec free_count(slots()) -> non_neg_integer().
free_count(#slots{nfresh = F, clean = Q}) -> F + queue:len(Q).

-spec size(slots()) -> pos_integer().
size(#slots{n = N}) -> N.
