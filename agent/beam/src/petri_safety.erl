%% petri_safety - the allowlist: which calls a genome may make, the scan of a
%% genome's abstract forms against it (with the rewrites that bound sizes),
%% and the check of the compiled .beam. Anything not explicitly allowed is
%% rejected with a reason naming the construct and its line.
%%
%% Invariants:
%%  1. Syntax is allowlisted too: an expression kind not handled below is
%%     rejected (receive, records, maybe, ... never reach the compiler).
%%  2. Every call names its target with literal atoms: a local function the
%%     genome defines, an allowed auto-imported BIF, or an allowed Mod:Fun/Arity.
%%     The one exception is calling a variable (a fun value): the only fun
%%     values a genome can obtain come from fun expressions, which are scanned
%%     here (arguments and results of allowed functions are plain data; tuple
%%     calls and atom "funs" fail with badfun at run time).
%%  3. Allowed functions are pure and deterministic and only touch the calling
%%     process: no messages, no processes, no atoms, no ports, no I/O, no
%%     code, no tables, and no call whose target is computed from data
%%     (functions taking a module as a sorter, Access, Inspect and struct
%%     builders stay out). A function whose cost or output size the genome
%%     controls with a small argument is either left out or rewritten to its
%%     checked version in petri_std (wrappers/0).
%%  4. The rewrites (scan/1): `A * B` with no small literal operand, `div`
%%     and `rem` without a small literal divisor, `bsl` and `bsr` without a
%%     small literal shift, wrapped calls and funs, and every
%%     non-literal size in bit-syntax construction become petri_std calls;
%%     literal sizes are checked here. Patterns and guards are not rewritten:
%%     they allocate nothing and cannot loop.
%%  5. A genome cannot forge a struct: the atom '__struct__' may appear only as
%%     the key of a map built with a literal struct module from safe_structs()
%%     (ranges), in a pattern or in a guard (which only read it). Elixir's protocols are consolidated over safe
%%     implementations only (petri_elixir), so a struct that still reaches one
%%     fails with Protocol.UndefinedError.
%%  6. check_beam/1 is defence in depth on the compiled module: every import
%%     is allowed or a petri_std wrapper (so neither erlang:apply nor
%%     erlang:make_fun), and no instruction is a dynamic call (apply).
-module(petri_safety).

-export([check/1, scan/1, scan/2, allowed/3, wrapped/3, check_beam/1, allowlist/0,
         allowlist_markdown/0, fun_count/1]).

-type form() :: erl_parse:abstract_form().
-type locals() :: [{atom(), arity()}].   % the functions the genome defines
-type mode() :: body | guard | pat.
-type ctx() :: {locals(), mode()}.

-define(STD, petri_std).
-define(MAX_LITERAL_BITS, 134217728).   % a literal bit-syntax size (16 MiB)

%% Scans function forms; other forms are the loader's business.
-spec check([form()]) -> ok | {error, binary()}.
check(Forms) ->
    case scan(Forms) of
        {ok, _} -> ok;
        Err -> Err
    end.

%% check/1, returning the forms with the rewrites of invariant 4 applied.
-spec scan([form()]) -> {ok, [form()]} | {error, binary()}.
scan(Forms) ->
    Locals = [{N, A} || {function, _, N, A, _} <- Forms],
    try
        {ok, [case F of
                  {function, L, N, A, Cs} ->
                      clash(L, N, A),
                      {function, L, N, A, clauses(Cs, {Locals, body})};
                  _ -> F
              end || F <- Forms]}
    catch
        throw:{unsafe, Line, Why} -> {error, iolist_to_binary(io_lib:format("line ~p: ~s", [Line, Why]))}
    end.

%% scan/1 for a genome whose arguments are numbers, or data holding numbers,
%% whose integers have at most 64 bits (Opts small_args: the spec's own cases
%% score it, no evaluator module calls it). A function whose every clause
%% body is straight-line arithmetic (bounded/1) keeps its `*`, `div` and
%% `rem` unchecked: the bits of every value it can compute are bounded from
%% its syntax and stay under ?INT_BITS, so the check would never fire, and
%% a call per operator costs a numeric genome about 15% more CPU to compile.
-spec scan([form()], #{small_args => boolean()}) -> {ok, [form()]} | {error, binary()}.
scan(Forms, #{small_args := true}) ->
    case scan(Forms) of
        {ok, Rewritten} ->
            %% a function the module itself calls may get larger arguments
            %% (a bounded function calls nothing, so with one function no
            %% other can call it)
            Called = case [F || {function, _, _, _, _} = F <- Forms] of
                         [_] -> [];
                         _ -> referenced(Forms, [])
                     end,
            {ok, [case Orig of
                      {function, _, N, A, _} ->
                          case not lists:member({N, A}, Called) andalso bounded(Orig) of
                              true -> Orig;
                              false -> New
                          end;
                      _ -> New
                  end || {Orig, New} <- lists:zip(Forms, Rewritten)]};
        Err -> Err
    end;
scan(Forms, _) ->
    scan(Forms).

%% ---- bounded arithmetic (scan/2) ----------------------------------------------

-define(INT_BITS, 65536).   % as petri_std's cap on integer results
-define(ARG_BITS, 64).      % an integer of the spec's cases

%% True when every clause body of the function is straight-line arithmetic
%% (variables, number literals, matches to variables, arithmetic and
%% bitwise operators, abs/max/min/float/trunc/round/ceil/floor, math:*)
%% whose every intermediate integer provably has at most ?INT_BITS bits,
%% given arguments of at most ?ARG_BITS bits. Anything else: false.
-spec bounded({function, term(), atom(), arity(), [term()]}) -> boolean().
bounded({function, _, _, _, Cs}) ->
    try
        lists:foreach(fun({clause, _, Ps, _Guards, Body}) ->
                              Env = maps:from_list([{V, ?ARG_BITS} || V <- pat_vars(Ps, [])]),
                              lists:foldl(fun(E, Env0) -> body_bits(E, Env0) end, Env, Body)
                      end, Cs),
        true
    catch
        throw:unbounded -> false
    end.

%% Every {Name, Arity} the forms call locally or take as a local fun.
-spec referenced(term(), [{atom(), arity()}]) -> [{atom(), arity()}].
referenced({call, _, {atom, _, F}, Args}, Acc) -> referenced(Args, [{F, length(Args)} | Acc]);
referenced({'fun', _, {function, F, A}}, Acc) when is_atom(F), is_integer(A) -> [{F, A} | Acc];
referenced(T, Acc) when is_tuple(T) -> referenced(tuple_to_list(T), Acc);
referenced([H | T], Acc) -> referenced(T, referenced(H, Acc));
referenced(_, Acc) -> Acc.

-spec pat_vars(term(), [atom()]) -> [atom()].
pat_vars({var, _, V}, Acc) -> [V | Acc];
pat_vars(T, Acc) when is_tuple(T) -> pat_vars(tuple_to_list(T), Acc);
pat_vars([H | T], Acc) -> pat_vars(T, pat_vars(H, Acc));
pat_vars(_, Acc) -> Acc.

-spec body_bits(term(), #{atom() => non_neg_integer()}) -> #{atom() => non_neg_integer()}.
body_bits({match, _, {var, _, V}, E}, Env) -> Env#{V => bits(E, Env)};
body_bits(E, Env) -> _ = bits(E, Env), Env.

-spec bits(term(), #{atom() => non_neg_integer()}) -> non_neg_integer().
bits(E, Env) ->
    case bits1(E, Env) of
        B when B =< ?INT_BITS -> B;
        _ -> throw(unbounded)
    end.

-spec bits1(term(), #{atom() => non_neg_integer()}) -> non_neg_integer().
bits1({integer, _, I}, _) -> int_bits(abs(I));
bits1({char, _, _}, _) -> 21;
bits1({float, _, _}, _) -> 0;
bits1({var, _, V}, Env) ->
    case Env of
        #{V := B} -> B;
        _ -> throw(unbounded)
    end;
bits1({op, _, Op, A, B}, Env) when Op =:= '+'; Op =:= '-' -> max(bits(A, Env), bits(B, Env)) + 1;
bits1({op, _, '*', A, B}, Env) -> bits(A, Env) + bits(B, Env);
bits1({op, _, '/', A, B}, Env) -> _ = bits(A, Env), _ = bits(B, Env), 0;
bits1({op, _, Op, A, B}, Env) when Op =:= 'div'; Op =:= 'rem'; Op =:= 'bsr' ->
    _ = bits(B, Env), bits(A, Env);
bits1({op, _, Op, A, B}, Env) when Op =:= 'band'; Op =:= 'bor'; Op =:= 'bxor' ->
    max(bits(A, Env), bits(B, Env));
bits1({op, _, 'bsl', A, {integer, _, K}}, Env) when K >= 0, K =< 64 -> bits(A, Env) + K;
bits1({op, _, Op, A}, Env) when Op =:= '-'; Op =:= '+'; Op =:= 'bnot' -> bits(A, Env) + 1;
bits1({call, _, {atom, _, F}, [A]}, Env) when F =:= abs -> bits(A, Env);
bits1({call, _, {atom, _, F}, [A]}, Env) when F =:= float -> _ = bits(A, Env), 0;
bits1({call, _, {atom, _, F}, [A]}, Env)
  when F =:= trunc; F =:= round; F =:= ceil; F =:= floor ->
    max(bits(A, Env), 1024);   % a float's integer part has at most 1024 bits
bits1({call, _, {atom, _, F}, [A, B]}, Env) when F =:= max; F =:= min ->
    max(bits(A, Env), bits(B, Env));
bits1({call, _, {remote, _, {atom, _, math}, {atom, _, F}}, Args}, Env) ->
    case allowed(math, F, length(Args)) of
        true -> lists:foreach(fun(X) -> bits(X, Env) end, Args), 0;
        false -> throw(unbounded)
    end;
bits1(_, _) ->
    throw(unbounded).

-spec int_bits(non_neg_integer()) -> pos_integer().
int_bits(0) -> 1;
int_bits(I) -> length(integer_to_list(I, 2)).

%% Allowed remote calls (and auto-imported BIFs when Mod =:= erlang), wrapped or not.
-spec allowed(atom(), atom(), non_neg_integer()) -> boolean().
allowed(M, F, A) ->
    plain(M, F, A) orelse wrapped(M, F, A) =/= false.

-spec plain(atom(), atom(), non_neg_integer()) -> boolean().
plain(M, F, A) ->
    case lists:keyfind(M, 1, allowlist()) of
        {M, Fs} -> lists:member({F, A}, Fs);
        false -> false
    end.

%% The petri_std function a call is rewritten to, or false.
-spec wrapped(atom(), atom(), non_neg_integer()) -> atom() | false.
wrapped(M, F, A) ->
    case lists:keyfind({M, F, A}, 1, wrappers()) of
        {_, W} -> W;
        false -> false
    end.

-spec wrappers() -> [{{atom(), atom(), arity()}, atom()}].
wrappers() ->
    [{{erlang, '*', 2}, mul}, {{erlang, 'bsl', 2}, shl}, {{erlang, 'bsr', 2}, shr},
     {{erlang, 'div', 2}, idiv}, {{erlang, 'rem', 2}, irem}, {{erlang, iolist_size, 1}, iolist_size},
     {{binary, decode_unsigned, 1}, decode_unsigned}, {{binary, decode_unsigned, 2}, decode_unsigned},
     {{'Elixir.Integer', mod, 2}, ex_int_mod}, {{'Elixir.Integer', floor_div, 2}, ex_floor_div},
     {{erlang, iolist_to_binary, 1}, iolist_to_binary}, {{erlang, list_to_binary, 1}, list_to_binary},
     {{erlang, integer_to_binary, 1}, integer_to_binary}, {{erlang, integer_to_binary, 2}, integer_to_binary},
     {{erlang, integer_to_list, 1}, integer_to_list}, {{erlang, integer_to_list, 2}, integer_to_list},
     {{erlang, binary_to_integer, 1}, binary_to_integer}, {{erlang, binary_to_integer, 2}, binary_to_integer},
     {{erlang, list_to_integer, 1}, list_to_integer}, {{erlang, list_to_integer, 2}, list_to_integer},
     {{erlang, make_tuple, 2}, make_tuple}, {{erlang, list_to_bitstring, 1}, list_to_bitstring},
     {{lists, seq, 2}, lists_seq}, {{lists, seq, 3}, lists_seq}, {{lists, duplicate, 2}, lists_duplicate},
     {{binary, copy, 2}, binary_copy}, {{binary, replace, 3}, binary_replace},
     {{binary, replace, 4}, binary_replace}, {{string, copies, 2}, string_copies},
     {{unicode, characters_to_binary, 1}, characters_to_binary},
     {{unicode, characters_to_binary, 2}, characters_to_binary},
     {{unicode, characters_to_list, 1}, characters_to_list},
     {{unicode, characters_to_nfc_binary, 1}, nfc_binary}, {{unicode, characters_to_nfd_binary, 1}, nfd_binary},
     {{unicode, characters_to_nfkc_binary, 1}, nfkc_binary}, {{unicode, characters_to_nfkd_binary, 1}, nfkd_binary},
     {{'Elixir.Enum', sort, 2}, ex_sort}, {{'Elixir.Enum', sort_by, 3}, ex_sort_by},
     {{'Elixir.Enum', join, 1}, ex_join}, {{'Elixir.Enum', join, 2}, ex_join},
     {{'Elixir.Enum', map_join, 2}, ex_map_join}, {{'Elixir.Enum', map_join, 3}, ex_map_join},
     {{'Elixir.String', duplicate, 2}, ex_duplicate},
     {{'Elixir.String', pad_leading, 2}, ex_pad_leading}, {{'Elixir.String', pad_leading, 3}, ex_pad_leading},
     {{'Elixir.String', pad_trailing, 2}, ex_pad_trailing}, {{'Elixir.String', pad_trailing, 3}, ex_pad_trailing},
     {{'Elixir.String', replace, 3}, ex_replace}, {{'Elixir.String', replace, 4}, ex_replace},
     {{'Elixir.String', to_integer, 1}, ex_str_to_integer}, {{'Elixir.String', to_integer, 2}, ex_str_to_integer},
     {{'Elixir.String.Chars', to_string, 1}, ex_to_string},
     {{'Elixir.List', duplicate, 2}, ex_list_duplicate}, {{'Elixir.List', to_string, 1}, ex_list_to_string},
     {{'Elixir.List', to_integer, 1}, ex_list_to_integer},
     {{'Elixir.Tuple', duplicate, 2}, ex_tuple_duplicate},
     {{'Elixir.Integer', pow, 2}, int_pow}, {{'Elixir.Kernel', '**', 2}, pow},
     {{'Elixir.Integer', to_string, 1}, ex_int_to_string}, {{'Elixir.Integer', to_string, 2}, ex_int_to_string},
     {{'Elixir.Integer', parse, 1}, ex_int_parse}, {{'Elixir.Integer', parse, 2}, ex_int_parse},
     {{'Elixir.Integer', digits, 1}, ex_int_digits}, {{'Elixir.Integer', digits, 2}, ex_int_digits},
     {{'Elixir.Bitwise', 'bsl', 2}, shl}, {{'Elixir.Bitwise', '<<<', 2}, shl},
     {{'Elixir.Bitwise', 'bsr', 2}, shr}, {{'Elixir.Bitwise', '>>>', 2}, shr}].

%% Struct modules a genome may build (Elixir ranges are maps with one).
-spec safe_structs() -> [atom()].
safe_structs() -> ['Elixir.Range'].

%% Module -> functions allowed as they are, reviewed one by one against the
%% exports of OTP 25 and Elixir 1.14. What is missing from a module was left
%% out on purpose (the README and docs/allowlist.md say why, by category).
-spec allowlist() -> [{atom(), [{atom(), arity()}]}].
allowlist() ->
    [{erlang, erlang_allowed()},
     {lists,
      [{all, 2}, {any, 2}, {append, 1}, {append, 2}, {concat, 1}, {delete, 2}, {droplast, 1}, {dropwhile, 2}, {enumerate, 1}, {enumerate, 2}, {filter, 2}, {filtermap, 2}, {flatlength, 1}, {flatmap, 2}, {flatten, 1}, {flatten, 2}, {foldl, 3}, {foldr, 3}, {foreach, 2}, {join, 2}, {keydelete, 3}, {keyfind, 3}, {keymap, 3}, {keymember, 3}, {keymerge, 3}, {keyreplace, 4}, {keysearch, 3}, {keysort, 2}, {keystore, 4}, {keytake, 3}, {last, 1}, {map, 2}, {mapfoldl, 3}, {mapfoldr, 3}, {max, 1}, {member, 2}, {merge, 1}, {merge, 2}, {merge, 3}, {merge3, 3}, {min, 1}, {nth, 2}, {nthtail, 2}, {partition, 2}, {prefix, 2}, {reverse, 1}, {reverse, 2}, {rkeymerge, 3}, {rmerge, 2}, {rmerge, 3}, {rmerge3, 3}, {rukeymerge, 3}, {rumerge, 2}, {rumerge, 3}, {rumerge3, 3}, {search, 2}, {sort, 1}, {sort, 2}, {split, 2}, {splitwith, 2}, {sublist, 2}, {sublist, 3}, {subtract, 2}, {suffix, 2}, {sum, 1}, {takewhile, 2}, {ukeymerge, 3}, {ukeysort, 2}, {umerge, 1}, {umerge, 2}, {umerge, 3}, {umerge3, 3}, {uniq, 1}, {uniq, 2}, {unzip, 1}, {unzip3, 1}, {usort, 1}, {usort, 2}, {zf, 2}, {zip, 2}, {zip3, 3}, {zipwith, 3}, {zipwith3, 4}]},
     {maps,
      [{filter, 2}, {filtermap, 2}, {find, 2}, {fold, 3}, {foreach, 2}, {from_keys, 2}, {from_list, 1}, {get, 2}, {get, 3}, {groups_from_list, 2}, {groups_from_list, 3}, {intersect, 2}, {intersect_with, 3}, {is_key, 2}, {iterator, 1}, {keys, 1}, {map, 2}, {merge, 2}, {merge_with, 3}, {new, 0}, {next, 1}, {put, 3}, {remove, 2}, {size, 1}, {take, 2}, {to_list, 1}, {update, 3}, {update_with, 3}, {update_with, 4}, {values, 1}, {with, 2}, {without, 2}]},
     {binary,
      [{at, 2}, {bin_to_list, 1}, {bin_to_list, 2}, {bin_to_list, 3}, {copy, 1}, {decode_hex, 1}, {encode_hex, 1}, {encode_unsigned, 1}, {encode_unsigned, 2}, {first, 1}, {last, 1}, {longest_common_prefix, 1}, {longest_common_suffix, 1}, {match, 2}, {match, 3}, {matches, 2}, {matches, 3}, {part, 2}, {part, 3}, {split, 2}, {split, 3}]},
     {string,
      [{casefold, 1}, {chomp, 1}, {chr, 2}, {concat, 2}, {cspan, 2}, {equal, 2}, {equal, 3}, {equal, 4}, {find, 2}, {find, 3}, {is_empty, 1}, {join, 2}, {len, 1}, {length, 1}, {lexemes, 2}, {list_to_float, 1}, {lowercase, 1}, {next_codepoint, 1}, {next_grapheme, 1}, {nth_lexeme, 3}, {prefix, 2}, {rchr, 2}, {replace, 3}, {replace, 4}, {reverse, 1}, {rstr, 2}, {slice, 2}, {slice, 3}, {span, 2}, {split, 2}, {split, 3}, {str, 2}, {strip, 1}, {strip, 2}, {strip, 3}, {sub_string, 2}, {sub_string, 3}, {sub_word, 2}, {sub_word, 3}, {substr, 2}, {substr, 3}, {take, 2}, {take, 3}, {take, 4}, {titlecase, 1}, {to_float, 1}, {to_graphemes, 1}, {to_lower, 1}, {to_upper, 1}, {tokens, 2}, {trim, 1}, {trim, 2}, {trim, 3}, {uppercase, 1}, {words, 1}, {words, 2}]},
     {unicode,
      [{bin_is_7bit, 1}, {bom_to_encoding, 1}, {characters_to_nfc_list, 1}, {characters_to_nfd_list, 1}, {characters_to_nfkc_list, 1}, {characters_to_nfkd_list, 1}, {encoding_to_bom, 1}]},
     {math,
      [{acos, 1}, {acosh, 1}, {asin, 1}, {asinh, 1}, {atan, 1}, {atan2, 2}, {atanh, 1}, {ceil, 1}, {cos, 1}, {cosh, 1}, {erf, 1}, {erfc, 1}, {exp, 1}, {floor, 1}, {fmod, 2}, {log, 1}, {log10, 1}, {log2, 1}, {pi, 0}, {pow, 2}, {sin, 1}, {sinh, 1}, {sqrt, 1}, {tan, 1}, {tanh, 1}]},
     {proplists,
      [{append_values, 2}, {compact, 1}, {delete, 2}, {expand, 2}, {from_map, 1}, {get_all_values, 2}, {get_bool, 2}, {get_keys, 1}, {get_value, 2}, {get_value, 3}, {is_defined, 2}, {lookup, 2}, {lookup_all, 2}, {normalize, 2}, {property, 1}, {property, 2}, {split, 2}, {substitute_aliases, 2}, {substitute_negations, 2}, {to_map, 1}, {to_map, 2}, {unfold, 1}]},
     {orddict,
      [{append, 3}, {append_list, 3}, {erase, 2}, {fetch, 2}, {fetch_keys, 1}, {filter, 2}, {find, 2}, {fold, 3}, {from_list, 1}, {is_empty, 1}, {is_key, 2}, {map, 2}, {merge, 3}, {new, 0}, {size, 1}, {store, 3}, {take, 2}, {to_list, 1}, {update, 3}, {update, 4}, {update_counter, 3}]},
     {ordsets,
      [{add_element, 2}, {del_element, 2}, {filter, 2}, {fold, 3}, {from_list, 1}, {intersection, 1}, {intersection, 2}, {is_disjoint, 2}, {is_element, 2}, {is_empty, 1}, {is_set, 1}, {is_subset, 2}, {new, 0}, {size, 1}, {subtract, 2}, {to_list, 1}, {union, 1}, {union, 2}]},
     {gb_trees,
      [{balance, 1}, {delete, 2}, {delete_any, 2}, {empty, 0}, {enter, 3}, {from_orddict, 1}, {get, 2}, {insert, 3}, {is_defined, 2}, {is_empty, 1}, {iterator, 1}, {iterator_from, 2}, {keys, 1}, {largest, 1}, {lookup, 2}, {map, 2}, {next, 1}, {size, 1}, {smallest, 1}, {take, 2}, {take_any, 2}, {take_largest, 1}, {take_smallest, 1}, {to_list, 1}, {update, 3}, {values, 1}]},
     {gb_sets,
      [{add, 2}, {add_element, 2}, {balance, 1}, {del_element, 2}, {delete, 2}, {delete_any, 2}, {difference, 2}, {empty, 0}, {filter, 2}, {fold, 3}, {from_list, 1}, {from_ordset, 1}, {insert, 2}, {intersection, 1}, {intersection, 2}, {is_disjoint, 2}, {is_element, 2}, {is_empty, 1}, {is_member, 2}, {is_set, 1}, {is_subset, 2}, {iterator, 1}, {iterator_from, 2}, {largest, 1}, {new, 0}, {next, 1}, {singleton, 1}, {size, 1}, {smallest, 1}, {subtract, 2}, {take_largest, 1}, {take_smallest, 1}, {to_list, 1}, {union, 1}, {union, 2}]},
     {queue,
      [{all, 2}, {any, 2}, {cons, 2}, {daeh, 1}, {delete, 2}, {delete_r, 2}, {delete_with, 2}, {delete_with_r, 2}, {drop, 1}, {drop_r, 1}, {filter, 2}, {filtermap, 2}, {fold, 3}, {from_list, 1}, {get, 1}, {get_r, 1}, {head, 1}, {in, 2}, {in_r, 2}, {init, 1}, {is_empty, 1}, {is_queue, 1}, {join, 2}, {lait, 1}, {last, 1}, {len, 1}, {liat, 1}, {member, 2}, {new, 0}, {out, 1}, {out_r, 1}, {peek, 1}, {peek_r, 1}, {reverse, 1}, {snoc, 2}, {split, 2}, {tail, 1}, {to_list, 1}]},
     {array,
      [{fix, 1}, {foldl, 3}, {foldr, 3}, {from_list, 1}, {from_orddict, 1}, {get, 2}, {is_array, 1}, {is_fix, 1}, {map, 2}, {new, 0}, {relax, 1}, {reset, 2}, {resize, 1}, {size, 1}, {sparse_foldl, 3}, {sparse_foldr, 3}, {sparse_map, 2}, {sparse_size, 1}, {sparse_to_list, 1}, {sparse_to_orddict, 1}, {to_list, 1}, {to_orddict, 1}]},
     {'Elixir.Enum',
      [{'all?', 1}, {'all?', 2}, {'any?', 1}, {'any?', 2}, {at, 2}, {at, 3}, {chunk, 2}, {chunk, 3}, {chunk, 4}, {chunk_by, 2}, {chunk_every, 2}, {chunk_every, 3}, {chunk_every, 4}, {chunk_while, 4}, {concat, 1}, {concat, 2}, {count, 1}, {count, 2}, {count_until, 2}, {count_until, 3}, {dedup, 1}, {dedup_by, 2}, {drop, 2}, {drop_every, 2}, {drop_while, 2}, {each, 2}, {'empty?', 1}, {fetch, 2}, {'fetch!', 2}, {filter, 2}, {filter_map, 3}, {find, 2}, {find, 3}, {find_index, 2}, {find_value, 2}, {find_value, 3}, {flat_map, 2}, {flat_map_reduce, 3}, {frequencies, 1}, {frequencies_by, 2}, {group_by, 2}, {group_by, 3}, {intersperse, 2}, {map, 2}, {map_every, 3}, {map_intersperse, 3}, {map_reduce, 3}, {max, 1}, {max_by, 2}, {'member?', 2}, {min, 1}, {min_by, 2}, {min_max, 1}, {min_max_by, 2}, {partition, 2}, {reduce, 2}, {reduce, 3}, {reduce_while, 3}, {reject, 2}, {reverse, 1}, {reverse, 2}, {reverse_slice, 3}, {scan, 2}, {scan, 3}, {slice, 2}, {slice, 3}, {slide, 3}, {sort, 1}, {sort_by, 2}, {split, 2}, {split_while, 2}, {split_with, 2}, {sum, 1}, {take, 2}, {take_every, 2}, {take_while, 2}, {to_list, 1}, {uniq, 1}, {uniq, 2}, {uniq_by, 2}, {unzip, 1}, {with_index, 1}, {with_index, 2}, {zip, 1}, {zip, 2}, {zip_reduce, 3}, {zip_reduce, 4}, {zip_with, 2}, {zip_with, 3}]},
     {'Elixir.List',
      [{'ascii_printable?', 1}, {'ascii_printable?', 2}, {delete, 2}, {delete_at, 2}, {first, 1}, {first, 2}, {flatten, 1}, {flatten, 2}, {foldl, 3}, {foldr, 3}, {'improper?', 1}, {insert_at, 3}, {keydelete, 3}, {keyfind, 3}, {keyfind, 4}, {'keyfind!', 3}, {'keymember?', 3}, {keyreplace, 4}, {keysort, 2}, {keysort, 3}, {keystore, 4}, {keytake, 3}, {last, 1}, {last, 2}, {myers_difference, 2}, {pop_at, 2}, {pop_at, 3}, {replace_at, 3}, {'starts_with?', 2}, {to_float, 1}, {to_tuple, 1}, {update_at, 3}, {wrap, 1}, {zip, 1}]},
     {'Elixir.Map',
      [{delete, 2}, {drop, 2}, {'equal?', 2}, {fetch, 2}, {'fetch!', 2}, {filter, 2}, {from_keys, 2}, {get, 2}, {get, 3}, {get_and_update, 3}, {'get_and_update!', 3}, {get_lazy, 3}, {'has_key?', 2}, {keys, 1}, {map, 2}, {merge, 2}, {merge, 3}, {new, 0}, {new, 1}, {new, 2}, {pop, 2}, {pop, 3}, {'pop!', 2}, {pop_lazy, 3}, {put, 3}, {put_new, 3}, {put_new_lazy, 3}, {reject, 2}, {replace, 3}, {'replace!', 3}, {replace_lazy, 3}, {size, 1}, {split, 2}, {take, 2}, {to_list, 1}, {update, 4}, {'update!', 3}, {values, 1}]},
     {'Elixir.MapSet',
      [{delete, 2}, {difference, 2}, {'disjoint?', 2}, {'equal?', 2}, {filter, 2}, {intersection, 2}, {'member?', 2}, {new, 0}, {new, 1}, {new, 2}, {put, 2}, {reject, 2}, {size, 1}, {'subset?', 2}, {symmetric_difference, 2}, {to_list, 1}, {union, 2}]},
     {'Elixir.Keyword',
      [{delete, 2}, {delete, 3}, {delete_first, 2}, {drop, 2}, {'equal?', 2}, {fetch, 2}, {'fetch!', 2}, {filter, 2}, {from_keys, 2}, {get, 2}, {get, 3}, {get_and_update, 3}, {'get_and_update!', 3}, {get_lazy, 3}, {get_values, 2}, {'has_key?', 2}, {keys, 1}, {'keyword?', 1}, {map, 2}, {merge, 2}, {merge, 3}, {new, 0}, {new, 1}, {new, 2}, {pop, 2}, {pop, 3}, {'pop!', 2}, {pop_first, 2}, {pop_first, 3}, {pop_lazy, 3}, {pop_values, 2}, {put, 3}, {put_new, 3}, {put_new_lazy, 3}, {reject, 2}, {replace, 3}, {'replace!', 3}, {replace_lazy, 3}, {size, 1}, {split, 2}, {take, 2}, {to_list, 1}, {update, 4}, {'update!', 3}, {values, 1}]},
     {'Elixir.String',
      [{at, 2}, {bag_distance, 2}, {capitalize, 1}, {capitalize, 2}, {chunk, 2}, {codepoints, 1}, {'contains?', 2}, {downcase, 1}, {downcase, 2}, {'ends_with?', 2}, {'equivalent?', 2}, {first, 1}, {graphemes, 1}, {jaro_distance, 2}, {last, 1}, {length, 1}, {lstrip, 1}, {lstrip, 2}, {next_codepoint, 1}, {next_grapheme, 1}, {next_grapheme_size, 1}, {'printable?', 1}, {'printable?', 2}, {replace_prefix, 3}, {replace_suffix, 3}, {reverse, 1}, {rstrip, 1}, {rstrip, 2}, {slice, 2}, {slice, 3}, {split, 1}, {split, 2}, {split, 3}, {split_at, 2}, {'starts_with?', 2}, {strip, 1}, {strip, 2}, {to_charlist, 1}, {to_float, 1}, {trim, 1}, {trim, 2}, {trim_leading, 1}, {trim_leading, 2}, {trim_trailing, 1}, {trim_trailing, 2}, {upcase, 1}, {upcase, 2}, {'valid?', 1}, {'valid_character?', 1}]},
     {'Elixir.Integer',
      []},
     {'Elixir.Float',
      [{ceil, 1}, {ceil, 2}, {floor, 1}, {floor, 2}, {max_finite, 0}, {min_finite, 0}, {parse, 1}, {pow, 2}, {ratio, 1}, {round, 1}, {round, 2}, {to_charlist, 1}, {to_string, 1}, {to_string, 2}]},
     {'Elixir.Tuple',
      [{append, 2}, {delete_at, 2}, {insert_at, 3}, {sum, 1}, {to_list, 1}]},
     {'Elixir.Bitwise',
      [{'&&&', 2}, {'^^^', 2}, {'band', 2}, {'bnot', 1}, {'bor', 2}, {'bxor', 2}, {'|||', 2}, {'~~~', 1}]},
     {'Elixir.Kernel', [{'+', 1}, {'+', 2}, {'-', 1}, {'-', 2}, {'/', 2}, {'++', 2}, {'--', 2},
                        {'==', 2}, {'!=', 2}, {'===', 2}, {'!==', 2}, {'<', 2}, {'<=', 2},
                        {'>', 2}, {'>=', 2}, {abs, 1}, {binary_part, 3}, {binary_slice, 2},
                        {binary_slice, 3}, {bit_size, 1}, {byte_size, 1}, {ceil, 1}, {'div', 2},
                        {elem, 2}, {floor, 1}, {hd, 1}, {length, 1}, {max, 2}, {min, 2},
                        {'not', 1}, {put_elem, 3}, {'rem', 2}, {round, 1}, {tl, 1}, {trunc, 1},
                        {tuple_size, 1}, {map_size, 1}, {is_map_key, 2}, {throw, 1}]},
     {'Elixir.Range', [{new, 2}, {new, 3}, {size, 1}, {'disjoint?', 2}, {shift, 2}]},
     {'Elixir.RuntimeError', [{exception, 1}]},
     {'Elixir.Exception', [{normalize, 3}]},
     {'Elixir.ArgumentError', [{exception, 1}]}].

-spec erlang_allowed() -> [{atom(), arity()}].
erlang_allowed() ->
    [{abs, 1}, {ceil, 1}, {floor, 1}, {float, 1}, {round, 1}, {trunc, 1},
     {max, 2}, {min, 2}, {element, 2}, {setelement, 3}, {hd, 1}, {tl, 1},
     {length, 1}, {size, 1}, {tuple_size, 1}, {map_size, 1}, {map_get, 2},
     {is_map_key, 2}, {tuple_to_list, 1}, {list_to_tuple, 1}, {append_element, 2},
     {delete_element, 2}, {insert_element, 3},
     {byte_size, 1}, {bit_size, 1}, {binary_part, 2}, {binary_part, 3},
     {binary_to_list, 1}, {binary_to_list, 3}, {bitstring_to_list, 1},
     {atom_to_binary, 1}, {atom_to_binary, 2}, {atom_to_list, 1},
     {float_to_binary, 1}, {float_to_binary, 2}, {float_to_list, 1}, {float_to_list, 2},
     {binary_to_float, 1}, {list_to_float, 1},
     {is_atom, 1}, {is_binary, 1}, {is_bitstring, 1}, {is_boolean, 1}, {is_float, 1},
     {is_function, 1}, {is_function, 2}, {is_integer, 1}, {is_list, 1}, {is_map, 1},
     {is_number, 1}, {is_tuple, 1}, {error, 1}, {error, 2}, {error, 3}, {throw, 1}, {exit, 1}]
    ++ [{Op, 2} || Op <- ['+', '-', '/', 'band', 'bor', 'bxor',
                          'and', 'or', 'xor', '==', '/=', '=<', '<', '>=', '>', '=:=',
                          '=/=', '++', '--', 'andalso', 'orelse']]
    ++ [{Op, 1} || Op <- ['+', '-', 'bnot', 'not']].

-spec clash(erl_anno:anno(), atom(), arity()) -> ok.
%% A local function named like a BIF outside the allowlist could be mistaken
%% for that BIF at a call site: reject the definition itself.
clash(L, N, A) ->
    case erl_internal:bif(N, A) andalso not allowed(erlang, N, A) of
        true -> throw({unsafe, line(L), fmt("function ~p/~p clashes with a BIF", [N, A])});
        false -> ok
    end.

%% Funs the module will have (the compiler makes an atom for each).
-spec fun_count([form()]) -> non_neg_integer().
fun_count(T) ->
    fun_count(T, 0).

-spec fun_count(term(), non_neg_integer()) -> non_neg_integer().
fun_count(T, N) when is_tuple(T), tuple_size(T) > 0 ->
    Own = case element(1, T) of
              'fun' when tuple_size(T) =:= 3, element(1, element(3, T)) =:= clauses -> 1;
              named_fun -> 1;
              lc -> 1;
              bc -> 1;
              _ -> 0
          end,
    fun_count(tuple_to_list(T), N + Own);
fun_count([H | T], N) -> fun_count(T, fun_count(H, N));
fun_count(_, N) -> N.

%% ---- the walk (check and rewrite) ---------------------------------------------

-spec clauses([term()], ctx()) -> [term()].
clauses(Cs, Ctx) -> [clause(C, Ctx) || C <- Cs].

-spec clause(term(), ctx()) -> term().
clause({clause, L, Ps, Gs, Body}, {Ls, _}) ->
    {clause, L, exprs(Ps, {Ls, pat}), [exprs(G, {Ls, guard}) || G <- Gs], exprs(Body, {Ls, body})};
clause(Other, _) ->
    reject(Other, "unexpected clause").

-spec exprs([term()], ctx()) -> [term()].
exprs(Es, Ctx) -> [expr(E, Ctx) || E <- Es].

-spec std(erl_anno:anno(), atom(), [term()]) -> term().
std(L, F, Args) -> {call, L, {remote, L, {atom, L, ?STD}, {atom, L, F}}, Args}.

-spec small_literal(term()) -> boolean().
small_literal({integer, _, I}) -> abs(I) < 16#7FFFFFFF;
small_literal({char, _, _}) -> true;
small_literal({float, _, _}) -> true;
small_literal({op, _, '-', E}) -> small_literal(E);
small_literal(_) -> false.

-spec shift_literal(term()) -> boolean().
shift_literal({integer, _, I}) -> I >= -64 andalso I =< 64;
shift_literal({op, _, '-', E}) -> shift_literal(E);
shift_literal(_) -> false.

-spec expr(term(), ctx()) -> term().
expr({atom, L, '__struct__'}, {_, body}) ->
    throw({unsafe, line(L), "the atom __struct__ is not allowed (structs cannot be built)"});
expr({atom, _, _} = E, _) -> E;
expr({char, _, _} = E, _) -> E;
expr({float, _, _} = E, _) -> E;
expr({integer, _, _} = E, _) -> E;
expr({string, _, _} = E, _) -> E;
expr({var, _, _} = E, _) -> E;
expr({nil, _} = E, _) -> E;
expr({cons, L, H, T}, C) -> {cons, L, expr(H, C), expr(T, C)};
expr({tuple, L, Es}, C) -> {tuple, L, exprs(Es, C)};
expr({map, L, Assocs}, C) -> {map, L, assocs(Assocs, C)};
expr({map, L, M, Assocs}, C) -> {map, L, expr(M, C), assocs(Assocs, C)};
expr({match, L, P, E}, {Ls, _} = C) -> {match, L, expr(P, {Ls, pat}), expr(E, C)};
expr({op, L, '!', _, _}, _) -> throw({unsafe, line(L), "message send (!) is not allowed"});
expr({op, L, '*', A, B}, {_, body} = C) ->
    case small_literal(A) orelse small_literal(B) of
        true -> {op, L, '*', expr(A, C), expr(B, C)};
        false -> std(L, mul, [expr(A, C), expr(B, C)])
    end;
expr({op, L, Op, A, B}, {_, body} = C) when Op =:= 'div'; Op =:= 'rem' ->
    case small_literal(B) of
        true -> {op, L, Op, expr(A, C), expr(B, C)};
        false -> std(L, case Op of 'div' -> idiv; 'rem' -> irem end, [expr(A, C), expr(B, C)])
    end;
expr({op, L, Op, A, B}, {_, body} = C) when Op =:= 'bsl'; Op =:= 'bsr' ->
    case shift_literal(B) of
        true -> {op, L, Op, expr(A, C), expr(B, C)};
        false -> std(L, case Op of 'bsl' -> shl; 'bsr' -> shr end, [expr(A, C), expr(B, C)])
    end;
expr({op, L, Op, A, B}, C) -> {op, L, Op, expr(A, C), expr(B, C)};
expr({op, L, Op, A}, C) -> {op, L, Op, expr(A, C)};
expr({block, L, Es}, C) -> {block, L, exprs(Es, C)};
expr({'case', L, E, Cs}, C) -> {'case', L, expr(E, C), clauses(Cs, C)};
expr({'if', L, Cs}, C) -> {'if', L, clauses(Cs, C)};
expr({'try', L, Es, Cs, Hs, As}, C) ->
    {'try', L, exprs(Es, C), clauses(Cs, C), clauses(Hs, C), exprs(As, C)};
expr({'catch', L, E}, C) -> {'catch', L, expr(E, C)};
expr({lc, L, E, Qs}, C) -> {lc, L, expr(E, C), quals(Qs, C)};
expr({bc, L, E, Qs}, C) -> {bc, L, expr(E, C), quals(Qs, C)};
expr({bin, L, Elems}, {_, Mode} = C) ->
    K = length([E || {bin_element, _, _, default, _} = E <- Elems, unsized(E)]),
    {bin, L, [bin_element(El, C, Mode =:= body andalso unsized(El), max(K, 1)) || El <- Elems]};
expr({'fun', L, {function, N, A}} = E, {Ls, _}) when is_atom(N), is_integer(A) ->
    case lists:member({N, A}, Ls) of
        true -> E;
        false -> throw({unsafe, line(L), fmt("fun ~p/~p does not name a function of the genome", [N, A])})
    end;
expr({'fun', L, {function, {atom, _, M}, {atom, _, F}, {integer, _, A}}}, _) ->
    %% becomes fun(A1, ..) -> M:F(A1, ..) end: without constant folding the
    %% compiler would build `fun M:F/A` with erlang:make_fun/3, which the
    %% .beam check refuses
    Target = case {plain(M, F, A), wrapped(M, F, A)} of
                 {_, W} when W =/= false -> {?STD, W};
                 {true, _} -> {M, F};
                 {false, _} -> throw({unsafe, line(L), fmt("fun ~s/~p is not allowed", [mf(M, F), A])})
             end,
    Vars = [{var, L, list_to_atom("PetriFunArg" ++ integer_to_list(I))} || I <- lists:seq(1, A)],
    {'fun', L, {clauses, [{clause, L, Vars, [],
                           [{call, L, {remote, L, {atom, L, element(1, Target)}, {atom, L, element(2, Target)}}, Vars}]}]}};
expr({'fun', L, {function, _, _, _}}, _) ->
    throw({unsafe, line(L), "fun M:F/A with non-literal parts is not allowed"});
expr({'fun', L, {clauses, Cs}}, C) -> {'fun', L, {clauses, clauses(Cs, C)}};
expr({named_fun, L, N, Cs}, C) -> {named_fun, L, N, clauses(Cs, C)};
expr({call, L, {remote, _, {atom, _, M}, {atom, _, F}} = R, Args}, {_, Mode} = C) ->
    A = length(Args),
    case {plain(M, F, A), wrapped(M, F, A)} of
        {_, W} when W =/= false, Mode =:= body -> std(L, W, exprs(Args, C));
        {true, _} -> {call, L, R, exprs(Args, C)};
        {_, W} when W =/= false, M =:= erlang -> {call, L, R, exprs(Args, C)};   % a guard BIF
        _ -> throw({unsafe, line(L), fmt("call to ~s/~p is not allowed", [mf(M, F), A])})
    end;
expr({call, L, {remote, _, _, _}, _}, _) ->
    throw({unsafe, line(L), "dynamic call (module or function is not a literal atom) is not allowed"});
expr({call, L, {atom, _, F} = Fn, Args}, {Ls, Mode} = C) ->
    A = length(Args),
    case lists:member({F, A}, Ls) of
        true -> {call, L, Fn, exprs(Args, C)};
        false ->
            case {erl_internal:bif(F, A) andalso plain(erlang, F, A), wrapped(erlang, F, A)} of
                {_, W} when W =/= false, Mode =:= body -> std(L, W, exprs(Args, C));
                {true, _} -> {call, L, Fn, exprs(Args, C)};
                _ -> throw({unsafe, line(L), fmt("call to ~p/~p is not allowed", [F, A])})
            end
    end;
expr({call, L, {var, _, _} = V, Args}, C) ->
    {call, L, V, exprs(Args, C)};
expr({call, L, {'fun', _, _} = Fun, Args}, C) ->
    {call, L, expr(Fun, C), exprs(Args, C)};
expr({call, L, {named_fun, _, _, _} = Fun, Args}, C) ->
    {call, L, expr(Fun, C), exprs(Args, C)};
expr({call, L, _, _}, _) ->
    throw({unsafe, line(L), "dynamic call (function is not a literal atom) is not allowed"});
expr({'receive', L, _}, _) -> throw({unsafe, line(L), "receive is not allowed"});
expr({'receive', L, _, _, _}, _) -> throw({unsafe, line(L), "receive is not allowed"});
expr(E, _) when is_tuple(E), tuple_size(E) >= 2 ->
    throw({unsafe, line(element(2, E)), fmt("expression ~p is not allowed", [element(1, E)])});
expr(_, _) ->
    throw({unsafe, 0, "malformed expression"}).

-spec assocs([term()], ctx()) -> [term()].
%% A struct key only with a literal safe struct module (invariant 5).
assocs(As, C) ->
    [case A of
         {map_field_assoc, L, {atom, _, '__struct__'} = K, {atom, _, Mod} = V} ->
             lists:member(Mod, safe_structs()) orelse
                 throw({unsafe, line(L), fmt("building a struct (__struct__ => ~p) is not allowed", [Mod])}),
             {map_field_assoc, L, K, V};
         {Kind, L, K, V} when Kind =:= map_field_assoc; Kind =:= map_field_exact ->
             {Kind, L, expr(K, C), expr(V, C)};
         Other -> reject(Other, "unexpected map field")
     end || A <- As].

%% A binary or bitstring segment without a size, holding a non-literal value.
-spec unsized(term()) -> boolean().
unsized({bin_element, _, Val, default, Tsl}) when is_list(Tsl) ->
    element(1, Val) =/= string andalso
        lists:any(fun(T) -> lists:member(T, [binary, bytes, bitstring, bits]) end, Tsl);
unsized(_) -> false.

-spec bin_element(term(), ctx(), boolean(), pos_integer()) -> term().
bin_element({bin_element, L, Val, Size, Tsl}, {Ls, Mode} = C, Seg, K) ->
    V = case Seg of
            true -> std(L, bin_seg, [expr(Val, C), {integer, L, K}]);
            false -> expr(Val, C)
        end,
    S = case Size of
            default -> default;
            _ when Mode =/= body -> expr(Size, {Ls, guard});
            {integer, _, N} -> literal_size(L, N, Size, Tsl);
            _ -> std(L, bin_size, [expr(Size, C), {integer, L, unit(Tsl)}])
        end,
    {bin_element, L, V, S, Tsl};
bin_element(Other, _, _, _) ->
    reject(Other, "unexpected binary element").

%% A literal size: small ones stay; larger ones (up to the cap) go through
%% petri_std:bin_size/2 too, which counts their bytes against the budget.
-spec literal_size(erl_anno:anno(), integer(), term(), term()) -> term().
literal_size(L, N, Size, Tsl) ->
    Bits = N * unit(Tsl),
    Bits =< ?MAX_LITERAL_BITS orelse
        throw({unsafe, line(L), fmt("bit syntax size ~b exceeds ~b bits", [Bits, ?MAX_LITERAL_BITS])}),
    case Bits =< 512 of
        true -> Size;
        false -> std(L, bin_size, [Size, {integer, L, unit(Tsl)}])
    end.

-spec unit(term()) -> pos_integer().
unit(Tsl) when is_list(Tsl) ->
    case [U || {unit, U} <- Tsl] of
        [U | _] -> U;
        [] ->
            case lists:member(binary, Tsl) orelse lists:member(bytes, Tsl) of
                true -> 8;
                false -> 1
            end
    end;
unit(_) -> 1.

-spec quals([term()], ctx()) -> [term()].
quals(Qs, {Ls, _} = C) ->
    [case Q of
         {generate, L, P, E} -> {generate, L, expr(P, {Ls, pat}), expr(E, C)};
         {b_generate, L, P, E} -> {b_generate, L, expr(P, {Ls, pat}), expr(E, C)};
         F -> expr(F, C)
     end || Q <- Qs].

-spec reject(term(), string()) -> no_return().
reject(E, Why) when is_tuple(E), tuple_size(E) >= 2 -> throw({unsafe, line(element(2, E)), Why});
reject(_, Why) -> throw({unsafe, 0, Why}).

-spec mf(atom(), atom()) -> string().
mf(M, F) ->
    case atom_to_list(M) of
        "Elixir." ++ Name -> Name ++ "." ++ atom_to_list(F);
        _ -> fmt("~p:~p", [M, F])
    end.

-spec line(term()) -> non_neg_integer().
line(Anno) ->
    try erl_anno:line(Anno) catch _:_ -> 0 end.

-spec fmt(io:format(), [term()]) -> string().
fmt(F, A) -> lists:flatten(io_lib:format(F, A)).

%% ---- the compiled module ------------------------------------------------------------

%% Every import of the .beam is allowed (or a petri_std wrapper), and no
%% instruction calls apply or builds a fun from variables.
-spec check_beam(binary()) -> ok | {error, binary()}.
check_beam(Bin) ->
    case beam_lib:chunks(Bin, [imports]) of
        {ok, {_, [{imports, Imports}]}} ->
            Bad = [MFA || {M, F, A} = MFA <- Imports,
                          not (M =:= ?STD orelse plain(M, F, A)
                               orelse (M =:= erlang andalso internal_bif(F, A)))],
            case Bad of
                [] -> no_apply(Bin);
                [{M, F, A} | _] ->
                    {error, iolist_to_binary(fmt("compiled module imports ~s/~b, which is not allowed", [mf(M, F), A]))}
            end;
        _ -> {error, <<"compiled module has no import table">>}
    end.

%% A call M:F(...) with M or F computed compiles to the apply instruction
%% (no import): look for it in the code itself.
%% Fast path: neither opcode's byte (112, 113) occurs in the code chunk at
%% all; otherwise the disassembly decides.
-spec no_apply(binary()) -> ok | {error, binary()}.
no_apply(Bin) ->
    case beam_lib:chunks(Bin, ["Code"]) of
        {ok, {_, [{"Code", Code}]}} ->
            case binary:match(Code, [<<112>>, <<113>>]) of
                nomatch -> ok;
                _ -> disasm_no_apply(Bin)
            end;
        _ -> {error, <<"compiled module has no code chunk">>}
    end.

-spec disasm_no_apply(binary()) -> ok | {error, binary()}.
disasm_no_apply(Bin) ->
    case beam_disasm:file(Bin) of
        {beam_file, _, _, _, _, Code} ->
            case [{N, A} || {function, N, A, _, Is} <- Code, I <- Is,
                            element(1, I) =:= apply orelse element(1, I) =:= apply_last] of
                [] -> ok;
                [{N, A} | _] ->
                    {error, iolist_to_binary(fmt("compiled function ~p/~b makes a dynamic call", [N, A]))}
            end;
        _ -> {error, <<"compiled module cannot be disassembled">>}
    end.

%% What the compiler itself emits calls to for allowed constructs (and that
%% a genome cannot name: the scan rejects these in source).
-spec internal_bif(atom(), arity()) -> boolean().
internal_bif(F, A) ->
    lists:member({F, A}, [{'*', 2}, {'bsl', 2}, {'bsr', 2}, {'div', 2}, {'rem', 2}, {get_module_info, 1},
                          {get_module_info, 2}, {nif_error, 1}, {raise, 3}, {error, 3},
                          {setelement, 3}, {'and', 2}, {'or', 2}, {'not', 1},
                          {is_record, 3}, {binary_to_list, 1}]).

%% ---- the documentation --------------------------------------------------------------

%% docs/allowlist.md, generated from the tables above (make allowlist-doc).
-spec allowlist_markdown() -> binary().
allowlist_markdown() ->
    Caps = petri_std:caps(),
    Head = ["# What a genome may call\n\n",
            "Generated by `make allowlist-doc` from `petri_safety:allowlist/0` and ",
            "`petri_safety:wrappers/0`; a test fails when this file differs from them.\n\n",
            "Every other function is rejected as `unsafe` with its name and line. ",
            "Functions marked *checked* are rewritten by the loader to a version in ",
            "`petri_std` that checks sizes before doing any work and fails the case ",
            "with a `crash` detail `petri_limit` past a cap.\n\n",
            "Caps: ", lists:join(", ", [io_lib:format("`~p` = ~b", [K, V]) || {K, V} <- Caps]),
            ".\n\n",
            "Operators: `A * B` (unless an operand is a small literal), `div` and `rem` ",
            "(unless the divisor is a small literal), `bsl` and `bsr` (unless the shift ",
            "is a literal in -64..64), unsized binary segments and non-literal bit-syntax ",
            "sizes are checked the same way.\n"],
    Mods = lists:usort([M || {M, _} <- allowlist()] ++ [M || {{M, _, _}, _} <- wrappers()]),
    Body = [[io_lib:format("\n## ~s\n\n", [mod_title(M)]),
             lists:join(", ", [io_lib:format("`~s/~b`~s", [fname(F), A, mark(M, F, A)])
                               || {F, A} <- lists:usort(funs(M))]),
             "\n"] || M <- Mods],
    iolist_to_binary([Head, Body]).

-spec funs(atom()) -> [{atom(), arity()}].
funs(M) ->
    case lists:keyfind(M, 1, allowlist()) of {M, Fs} -> Fs; false -> [] end
        ++ [{F, A} || {{M2, F, A}, _} <- wrappers(), M2 =:= M].

-spec mark(atom(), atom(), arity()) -> string().
mark(M, F, A) ->
    case wrapped(M, F, A) of
        false -> "";
        W -> fmt(" (checked: `petri_std:~p`)", [W])
    end.

-spec mod_title(atom()) -> string().
mod_title(M) ->
    case atom_to_list(M) of
        "Elixir." ++ Name -> Name ++ " (Elixir)";
        Name -> "`" ++ Name ++ "`"
    end.

-spec fname(atom()) -> string().
fname(F) ->
    S = atom_to_list(F),
    lists:flatten([case C of $| -> "\\|"; _ -> C end || C <- S]).
