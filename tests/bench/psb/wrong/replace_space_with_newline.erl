%% Wrong on purpose: counts every character, spaces too.
-module(replace_space_with_newline).
-export([replace_space_with_newline/1]).

replace_space_with_newline(S) -> {[case C of $\s -> $\n; _ -> C end || C <- S], length(S)}.
