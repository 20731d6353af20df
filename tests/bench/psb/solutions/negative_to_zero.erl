%% negative-to-zero: every negative integer replaced by 0.
-module(negative_to_zero).
-export([negative_to_zero/1]).

negative_to_zero(V) -> [max(X, 0) || X <- V].
