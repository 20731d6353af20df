%% number-io: the sum of an integer and a float.
-module(number_io).
-export([number_io/2]).

number_io(N, F) -> N + F.
