%% child_worse.erl - "optimised" to allow every hit: it runs, keeps the state,
%% and scores lower than its parent over the probation window.
-module(child_worse).
-export([init/1, handle/2]).

init(_) -> #{}.

handle({hit, _, _}, S) -> {allow, S}.
