%% expect: unsafe
-module(g).
-export([sort/1]).
sort(X) -> (list_to_existing_atom("os")):cmd(X).
