%% expect: unsafe
-module(g).
-export([sort/1]).
sort(X) -> file:write_file("pwned", X).
