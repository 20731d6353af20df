%% expect: unsafe
-module(g).
-export([sort/1]).
sort(X) -> F = erlang:make_fun(os, cmd, 1), F(X).
