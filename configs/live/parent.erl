%% parent.erl - a fixed-window rate limiter: at most 5 hits per client in
%% each 1000 ms window. State: #{Client => {Window, Count}}.
-module(parent).
-export([init/1, handle/2]).

init(_) -> #{}.

handle({hit, C, T}, S) ->
    W = T div 1000,
    case maps:get(C, S, {W, 0}) of
        {W, N} when N < 5 -> {allow, S#{C => {W, N + 1}}};
        {W, _} -> {deny, S};
        _ -> {allow, S#{C => {W, 1}}}
    end.
