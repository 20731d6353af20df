%% child_bad.erl - a token bucket whose code_change expects a state shape the
%% parent never had: it crashes, and the parent comes back.
-module(child_bad).
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
    maps:map(fun(_, {Tok, Last, Burst}) -> {Tok + Burst, Last} end, S).
