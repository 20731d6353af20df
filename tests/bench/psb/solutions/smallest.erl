%% smallest: the smallest of four integers.
-module(smallest).
-export([smallest/4]).

smallest(A, B, C, D) -> min(min(A, B), min(C, D)).
