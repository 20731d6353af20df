%% untuned.erl - the rate limiter of parent.erl with its constants off: at
%% most 2 hits per client in each 3000 ms window. The live population of
%% ratelimit-population.json starts from it and tunes the constants in place
%% against the recorded trace.
-module(untuned).
-export([init/1, handle/2]).

init(_) -> #{}.

handle({hit, C, T}, S) ->
    W = T div 3000,
    case maps:get(C, S, {W, 0}) of
        {W, N} when N < 2 -> {allow, S#{C => {W, N + 1}}};
        {W, _} -> {deny, S};
        _ -> {allow, S#{C => {W, 1}}}
    end.
