%% string-lengths-backwards: the lengths of the strings, last first.
-module(string_lengths_backwards).
-export([string_lengths_backwards/1]).

string_lengths_backwards(L) -> lists:reverse([length(S) || S <- L]).
