%% Wrong on purpose: ! is doubled like a letter.
-module(double_letters).
-export([double_letters/1]).

double_letters(S) -> lists:flatmap(fun(C) when C >= $a, C =< $z; C >= $A, C =< $Z; C =:= $! -> [C, C];
                                      (C) -> [C] end, S).
