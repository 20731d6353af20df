%% expect: crash
-module(g).
-export([sort/1]).
sort(_) -> N = 1 bsl 45, byte_size(<<0:N>>).
