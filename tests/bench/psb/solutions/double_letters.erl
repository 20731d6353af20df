%% double-letters: letters doubled, ! tripled, anything else once.
-module(double_letters).
-export([double_letters/1]).

double_letters(S) -> lists:flatmap(fun each/1, S).

each(C) when C >= $a, C =< $z; C >= $A, C =< $Z -> [C, C];
each($!) -> "!!!";
each(C) -> [C].
