-module(noexport).
-export([]).
f(X) -> X.
