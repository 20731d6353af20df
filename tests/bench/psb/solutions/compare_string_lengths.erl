%% compare-string-lengths: whether the three lengths strictly increase.
-module(compare_string_lengths).
-export([compare_string_lengths/3]).

compare_string_lengths(A, B, C) -> length(A) < length(B) andalso length(B) < length(C).
