%% replace-space-with-newline: {the text with spaces as newlines, non-whitespace count}.
-module(replace_space_with_newline).
-export([replace_space_with_newline/1]).

replace_space_with_newline(S) ->
    {[case C of $\s -> $\n; _ -> C end || C <- S],
     length([C || C <- S, C =/= $\s, C =/= $\n, C =/= $\t])}.
