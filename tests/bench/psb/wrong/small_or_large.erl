%% Wrong on purpose: 2000 itself is "large", not nothing.
-module(small_or_large).
-export([small_or_large/1]).

small_or_large(N) when N < 1000 -> "small";
small_or_large(N) when N > 2000 -> "large";
small_or_large(_) -> "".
