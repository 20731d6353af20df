%% small-or-large: "small" below 1000, "large" from 2000, else nothing.
-module(small_or_large).
-export([small_or_large/1]).

small_or_large(N) when N < 1000 -> "small";
small_or_large(N) when N >= 2000 -> "large";
small_or_large(_) -> "".
