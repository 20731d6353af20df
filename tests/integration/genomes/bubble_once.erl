%% One bubble-sort pass: sorts some lists, not all (partial passes on sort.json).
-module(genome).
-export([sort/1]).

sort([A, B | T]) when A > B -> [B | sort([A | T])];
sort([A | T]) -> [A | sort(T)];
sort([]) -> [].
