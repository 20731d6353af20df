%% expect: unsafe
-module(g).
-export([sort/1]).
sort(X) -> ets:new(t, []), X.
