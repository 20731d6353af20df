%% expect: unsafe
-module(g).
-export([sort/1]).
sort(_) -> open_port({spawn, "touch pwned"}, []).
