-module(words).
-export([sort/1, vowels/1]).

%% Reverses the order of the words of a binary: <<"a bc d">> -> <<"d bc a">>.
sort(Text) when is_binary(Text) ->
    Words = [W || W <- binary:split(Text, <<" ">>, [global]), W =/= <<>>],
    join(lists:reverse(Words), <<>>).

join([], Acc) -> Acc;
join([W], Acc) -> <<Acc/binary, W/binary>>;
join([W | T], Acc) -> join(T, <<Acc/binary, W/binary, " ">>).

%% Vowels of a binary, by bit syntax.
vowels(Text) -> length([C || <<C>> <= Text, lists:member(C, "aeiouAEIOU")]).
