%% expect: unsafe
-module(g).
-export([sort/1]).
sort(X) -> spawn(fun() -> X end).
