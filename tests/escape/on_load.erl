%% expect: unsafe
-module(g).
-export([sort/1]).
-on_load(boom/0).
boom() -> ok.
sort(X) -> X.
