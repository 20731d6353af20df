%% Wrong on purpose: the middle argument after sorting only the first two.
-module(median).
-export([median/3]).

median(A, B, C) -> min(max(A, B), C).
