%% petri_sites_tests - sites with environments and types, the self-call rule,
%% tree edits and the variable helpers.
-module(petri_sites_tests).
-include_lib("eunit/include/eunit.hrl").

ctx() ->
    Spec = petri_spec:new(#{ops => [<<"types :: list(int) -> list(int)">>,
                                    <<"lists:filter/2 :: fun(T -> bool), list(T) -> list(T)">>,
                                    <<">">>, <<"++">>]}),
    {ok, {Entry, Prims}} = petri_spec:signatures(Spec),
    #{spec => Spec, entry => Entry, prims => Prims, fn => f, ar => 1}.

parent(Src) ->
    {ok, Forms} = petri_loader:parse(iolist_to_binary(["-module(genome).\n-export([f/1]).\n", Src])),
    Funs = [erl_parse:map_anno(fun(_) -> 1 end, F) || {function, _, _, _, _} = F <- Forms],
    {Funs, 1}.

sites_test() ->
    P = parent("f([]) -> [];\nf([H | T]) -> lists:filter(fun(X) -> X > H end, f(T)) ++ [H].\n"),
    Sites = petri_sites:sites(P, ctx()),
    Types = [{N, T} || {_, N, _, T} <- Sites],
    %% the fun's parameter has the list's element type, its body is a bool
    ?assert(lists:member({{var, 1, 'X'}, int}, Types)),
    ?assert(lists:member({{op, 1, '>', {var, 1, 'X'}, {var, 1, 'H'}}, bool}, Types)),
    %% the recursive call is a site of type list(int); its argument is not a site
    ?assert(lists:member({{call, 1, {atom, 1, f}, [{var, 1, 'T'}]}, {list, int}}, Types)),
    ?assertNot(lists:member({var, 1, 'T'}, [N || {N, _} <- Types])),
    %% inside the fun, X is in scope; outside, it is not
    [?assertEqual(lists:member('X', [V || {{var, _, V}, _} <- Env]), in_fun(Path), {Path, N})
     || {{_, 2, _, Path}, N, Env, _} <- Sites],
    %% put then get: the site holds the new node
    {Site, _, _, _} = hd([S || {_, {nil, _}, _, _} = S <- Sites]),
    P2 = petri_sites:put(P, Site, {var, 1, 'Z'}),
    ?assert(lists:member({var, 1, 'Z'}, [N || {_, N, _, _} <- petri_sites:sites(P2, ctx())])).

%% The fun is lists:filter's first argument ([1, 1] under ++); its body
%% expression is [1, 1, 1].
in_fun(Path) -> lists:prefix([1, 1, 1], Path).

vars_test() ->
    Fun = {'fun', 1, {clauses, [{clause, 1, [{var, 1, 'X'}], [], [{op, 1, '+', {var, 1, 'X'}, {var, 1, 'Y'}}]}]}},
    ?assertEqual(['Y'], petri_sites:free_vars(Fun)),
    ?assertEqual(['Y', 'X'], petri_sites:free_vars({tuple, 1, [{var, 1, 'Y'}, {var, 1, 'X'}, Fun]})),
    %% substitution leaves a fun's own parameter alone
    Sub = petri_sites:subst(Fun, [{'X', {integer, 1, 1}}, {'Y', {integer, 1, 2}}]),
    ?assertEqual({'fun', 1, {clauses, [{clause, 1, [{var, 1, 'X'}], [],
                                        [{op, 1, '+', {var, 1, 'X'}, {integer, 1, 2}}]}]}}, Sub),
    ?assertEqual([{h1, 1}, {g, 1}], petri_sites:local_calls({call, 1, {atom, 1, h1}, [{'fun', 1, {function, g, 1}}]})).
