%% child_better.erl - a token bucket: 5 tokens, one back every 200 ms
%% (milli-tokens in integers). State: #{Client => {MilliTokens, LastMs}};
%% code_change turns the parent's windows into buckets.
-module(child_better).
-export([init/1, handle/2, code_change/2]).

init(_) -> #{}.

handle({hit, C, T}, S) ->
    {Tok0, Last} = maps:get(C, S, {5000, T}),
    Tok = min(5000, Tok0 + (T - Last) * 5),
    case Tok >= 1000 of
        true -> {allow, S#{C => {Tok - 1000, T}}};
        false -> {deny, S#{C => {Tok, T}}}
    end.

code_change(_, S) ->
    maps:map(fun(_, {W, N}) -> {max(0, 5 - N) * 1000, W * 1000} end, S).
