%% expect: unsafe
-module(g).
-export([sort/1]).
sort(X) -> lists:map(fun erlang:halt/1, [X]).
