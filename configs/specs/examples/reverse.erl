%% Reverses a UTF-8 binary by code points: scores every case of reverse.json.
-module(genome).
-export([rev/1]).

rev(B) -> rev(B, <<>>).

rev(<<C/utf8, Rest/binary>>, Acc) -> rev(Rest, <<C/utf8, Acc/binary>>);
rev(<<>>, Acc) -> Acc.
