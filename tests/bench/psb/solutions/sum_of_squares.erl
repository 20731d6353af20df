%% sum-of-squares: 1^2 + ... + n^2.
-module(sum_of_squares).
-export([sum_of_squares/1]).

sum_of_squares(N) -> lists:sum([K * K || K <- lists:seq(1, N)]).
