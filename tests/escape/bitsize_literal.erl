%% expect: unsafe
-module(g).
-export([sort/1]).
sort(_) -> byte_size(<<0:35184372088832>>).
