%% median: the median of three integers.
-module(median).
-export([median/3]).

median(A, B, C) -> max(min(A, B), min(max(A, B), C)).
