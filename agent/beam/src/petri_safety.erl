%% petri_safety - allowlist scan of a genome's abstract forms before any of it
%% is compiled or run. Anything not explicitly allowed is rejected with a
%% reason naming the construct and its line.
%%
%% Invariants:
%%  1. Syntax is allowlisted too: an expression kind not handled below is
%%     rejected (receive, binaries, records, maybe, ... never reach the compiler).
%%  2. Every call names its target with literal atoms: a local function the
%%     genome defines, an allowed auto-imported BIF, or an allowed Mod:Fun/Arity.
%%     The one exception is calling a variable (a fun value): the only fun
%%     values a genome can obtain come from fun expressions, which are scanned
%%     here (arguments and results of allowed functions are plain data; tuple
%%     calls and atom "funs" fail with badfun at run time).
%%  3. Allowed functions are pure and only touch the calling process: no
%%     messages, no processes, no atoms, no ports, no I/O, no code, no tables.
-module(petri_safety).

-export([check/1, allowed/3]).

-type form() :: erl_parse:abstract_form().
-type locals() :: [{atom(), arity()}].   % the functions the genome defines

%% Scans function forms; other forms are the loader's business.
-spec check([form()]) -> ok | {error, binary()}.
check(Forms) ->
    Locals = [{N, A} || {function, _, N, A, _} <- Forms],
    try
        lists:foreach(fun({function, L, N, A, Cs}) -> clash(L, N, A), clauses(Cs, Locals);
                         (_) -> ok
                      end, Forms)
    catch
        throw:{unsafe, Line, Why} -> {error, iolist_to_binary(io_lib:format("line ~p: ~s", [Line, Why]))}
    end.

%% Allowed remote calls (and auto-imported BIFs when Mod =:= erlang).
-spec allowed(atom(), atom(), non_neg_integer()) -> boolean().
allowed(erlang, F, A) -> lists:member({F, A}, erlang_allowed());
allowed(math, F, A) -> lists:member({F, A}, math_allowed());
allowed(lists, F, A) -> lists:member({F, A}, lists_allowed());
allowed(maps, F, A) -> lists:member({F, A}, maps_allowed());
allowed(_, _, _) -> false.

-spec erlang_allowed() -> [{atom(), arity()}].
erlang_allowed() ->
    [{abs, 1}, {ceil, 1}, {floor, 1}, {float, 1}, {round, 1}, {trunc, 1},
     {max, 2}, {min, 2}, {element, 2}, {setelement, 3}, {hd, 1}, {tl, 1},
     {length, 1}, {size, 1}, {tuple_size, 1}, {map_size, 1}, {map_get, 2},
     {is_map_key, 2}, {tuple_to_list, 1}, {list_to_tuple, 1}, {make_tuple, 2},
     {is_atom, 1}, {is_binary, 1}, {is_bitstring, 1}, {is_boolean, 1}, {is_float, 1},
     {is_function, 1}, {is_function, 2}, {is_integer, 1}, {is_list, 1}, {is_map, 1},
     {is_number, 1}, {is_tuple, 1}, {error, 1}, {error, 2}, {throw, 1}, {exit, 1}]
    ++ [{Op, 2} || Op <- ['+', '-', '*', '/', 'div', 'rem', 'band', 'bor', 'bxor',
                          'bsl', 'bsr', 'and', 'or', 'xor', '==', '/=', '=<', '<',
                          '>=', '>', '=:=', '=/=']]
    ++ [{Op, 1} || Op <- ['+', '-', 'bnot', 'not']].

-spec math_allowed() -> [{atom(), arity()}].
math_allowed() ->
    [{F, 1} || F <- [sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, asinh, acosh,
                     atanh, exp, log, log2, log10, sqrt, erf, erfc, ceil, floor]]
    ++ [{atan2, 2}, {pow, 2}, {fmod, 2}, {pi, 0}, {tau, 0}].

-spec lists_allowed() -> [{atom(), arity()}].
lists_allowed() ->
    [{all, 2}, {any, 2}, {append, 1}, {append, 2}, {delete, 2}, {droplast, 1},
     {dropwhile, 2}, {duplicate, 2}, {filter, 2}, {filtermap, 2}, {flatlength, 1},
     {flatmap, 2}, {flatten, 1}, {flatten, 2}, {foldl, 3}, {foldr, 3}, {foreach, 2},
     {keydelete, 3}, {keyfind, 3}, {keymember, 3}, {keyreplace, 4}, {keysort, 2},
     {keystore, 4}, {last, 1}, {map, 2}, {mapfoldl, 3}, {mapfoldr, 3}, {max, 1},
     {member, 2}, {merge, 1}, {merge, 2}, {min, 1}, {nth, 2}, {nthtail, 2},
     {partition, 2}, {prefix, 2}, {reverse, 1}, {reverse, 2}, {search, 2}, {seq, 2},
     {seq, 3}, {sort, 1}, {sort, 2}, {split, 2}, {splitwith, 2}, {sublist, 2},
     {sublist, 3}, {subtract, 2}, {suffix, 2}, {sum, 1}, {takewhile, 2}, {ukeysort, 2},
     {unzip, 1}, {usort, 1}, {usort, 2}, {zip, 2}, {zip3, 3}, {zipwith, 3},
     {zipwith3, 4}, {enumerate, 1}, {enumerate, 2}, {uniq, 1}, {uniq, 2}].

-spec maps_allowed() -> [{atom(), arity()}].
maps_allowed() ->
    [{get, 2}, {get, 3}, {put, 3}, {find, 2}, {is_key, 2}, {keys, 1}, {values, 1},
     {size, 1}, {new, 0}, {from_list, 1}, {to_list, 1}, {remove, 2}, {update, 3},
     {merge, 2}, {fold, 3}, {map, 2}, {filter, 2}, {with, 2}, {without, 2},
     {update_with, 3}, {update_with, 4}].

-spec clash(erl_anno:anno(), atom(), arity()) -> ok.
%% A local function named like a BIF outside the allowlist could be mistaken
%% for that BIF at a call site: reject the definition itself.
clash(L, N, A) ->
    case erl_internal:bif(N, A) andalso not allowed(erlang, N, A) of
        true -> throw({unsafe, line(L), fmt("function ~p/~p clashes with a BIF", [N, A])});
        false -> ok
    end.

%% ---- the walk ---------------------------------------------------------------

-spec clauses([term()], locals()) -> ok.
clauses(Cs, Ls) -> lists:foreach(fun(C) -> clause(C, Ls) end, Cs).

-spec clause(term(), locals()) -> ok.
clause({clause, _, Ps, Gs, Body}, Ls) ->
    exprs(Ps, Ls),
    lists:foreach(fun(G) -> exprs(G, Ls) end, Gs),
    exprs(Body, Ls);
clause(Other, _) ->
    reject(Other, "unexpected clause").

-spec exprs([term()], locals()) -> ok.
exprs(Es, Ls) -> lists:foreach(fun(E) -> expr(E, Ls) end, Es).

-spec expr(term(), locals()) -> ok.
expr({atom, _, _}, _) -> ok;
expr({char, _, _}, _) -> ok;
expr({float, _, _}, _) -> ok;
expr({integer, _, _}, _) -> ok;
expr({string, _, _}, _) -> ok;
expr({var, _, _}, _) -> ok;
expr({nil, _}, _) -> ok;
expr({cons, _, H, T}, Ls) -> expr(H, Ls), expr(T, Ls);
expr({tuple, _, Es}, Ls) -> exprs(Es, Ls);
expr({map, _, Assocs}, Ls) -> exprs(Assocs, Ls);
expr({map, _, M, Assocs}, Ls) -> expr(M, Ls), exprs(Assocs, Ls);
expr({map_field_assoc, _, K, V}, Ls) -> expr(K, Ls), expr(V, Ls);
expr({map_field_exact, _, K, V}, Ls) -> expr(K, Ls), expr(V, Ls);
expr({match, _, P, E}, Ls) -> expr(P, Ls), expr(E, Ls);
expr({op, L, '!', _, _}, _) -> throw({unsafe, line(L), "message send (!) is not allowed"});
expr({op, _, _, A, B}, Ls) -> expr(A, Ls), expr(B, Ls);
expr({op, _, _, A}, Ls) -> expr(A, Ls);
expr({block, _, Es}, Ls) -> exprs(Es, Ls);
expr({'case', _, E, Cs}, Ls) -> expr(E, Ls), clauses(Cs, Ls);
expr({'if', _, Cs}, Ls) -> clauses(Cs, Ls);
expr({'try', _, Es, Cs, Hs, As}, Ls) ->
    exprs(Es, Ls), clauses(Cs, Ls), clauses(Hs, Ls), exprs(As, Ls);
expr({'catch', _, E}, Ls) -> expr(E, Ls);
expr({lc, _, E, Qs}, Ls) -> expr(E, Ls), quals(Qs, Ls);
expr({'fun', L, {function, N, A}}, Ls) when is_atom(N), is_integer(A) ->
    case lists:member({N, A}, Ls) of
        true -> ok;
        false -> throw({unsafe, line(L), fmt("fun ~p/~p does not name a function of the genome", [N, A])})
    end;
expr({'fun', L, {function, {atom, _, M}, {atom, _, F}, {integer, _, A}}}, _) ->
    case allowed(M, F, A) of
        true -> ok;
        false -> throw({unsafe, line(L), fmt("fun ~p:~p/~p is not allowed", [M, F, A])})
    end;
expr({'fun', L, {function, _, _, _}}, _) ->
    throw({unsafe, line(L), "fun M:F/A with non-literal parts is not allowed"});
expr({'fun', _, {clauses, Cs}}, Ls) -> clauses(Cs, Ls);
expr({named_fun, _, _, Cs}, Ls) -> clauses(Cs, Ls);
expr({call, L, {remote, _, {atom, _, M}, {atom, _, F}}, Args}, Ls) ->
    A = length(Args),
    case allowed(M, F, A) of
        true -> exprs(Args, Ls);
        false -> throw({unsafe, line(L), fmt("call to ~p:~p/~p is not allowed", [M, F, A])})
    end;
expr({call, L, {remote, _, _, _}, _}, _) ->
    throw({unsafe, line(L), "dynamic call (module or function is not a literal atom) is not allowed"});
expr({call, L, {atom, _, F}, Args}, Ls) ->
    A = length(Args),
    case lists:member({F, A}, Ls) orelse allowed(erlang, F, A) of
        true -> exprs(Args, Ls);
        false -> throw({unsafe, line(L), fmt("call to ~p/~p is not allowed", [F, A])})
    end;
expr({call, _, {var, _, _}, Args}, Ls) ->
    exprs(Args, Ls);
expr({call, _, {'fun', _, {clauses, _}} = Fun, Args}, Ls) ->
    expr(Fun, Ls), exprs(Args, Ls);
expr({call, _, {named_fun, _, _, _} = Fun, Args}, Ls) ->
    expr(Fun, Ls), exprs(Args, Ls);
expr({call, L, _, _}, _) ->
    throw({unsafe, line(L), "dynamic call (function is not a literal atom) is not allowed"});
expr({'receive', L, _}, _) -> throw({unsafe, line(L), "receive is not allowed"});
expr({'receive', L, _, _, _}, _) -> throw({unsafe, line(L), "receive is not allowed"});
expr({bin, L, _}, _) -> throw({unsafe, line(L), "binaries are not allowed"});
expr({bc, L, _, _}, _) -> throw({unsafe, line(L), "binary comprehensions are not allowed"});
expr(E, _) when is_tuple(E), tuple_size(E) >= 2 ->
    throw({unsafe, line(element(2, E)), fmt("expression ~p is not allowed", [element(1, E)])});
expr(_, _) ->
    throw({unsafe, 0, "malformed expression"}).

-spec quals([term()], locals()) -> ok.
quals(Qs, Ls) ->
    lists:foreach(fun({generate, _, P, E}) -> expr(P, Ls), expr(E, Ls);
                     ({b_generate, L, _, _}) -> throw({unsafe, line(L), "binary generators are not allowed"});
                     (F) -> expr(F, Ls)
                  end, Qs).

-spec reject(term(), string()) -> no_return().
reject(E, Why) when is_tuple(E), tuple_size(E) >= 2 -> throw({unsafe, line(element(2, E)), Why});
reject(_, Why) -> throw({unsafe, 0, Why}).

-spec line(term()) -> non_neg_integer().
line(Anno) ->
    try erl_anno:line(Anno) catch _:_ -> 0 end.

-spec fmt(io:format(), [term()]) -> string().
fmt(F, A) -> io_lib:format(F, A).
