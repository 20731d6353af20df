%% The sign of a number as an atom: scores every case of sign.json.
-module(genome).
-export([sign/1]).

sign(X) when X < 0 -> neg;
sign(X) when X == 0 -> zero;
sign(_) -> pos.
