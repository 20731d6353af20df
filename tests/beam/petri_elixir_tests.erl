%% petri_elixir_tests - the Elixir subset: translation, evaluation, rejections.
-module(petri_elixir_tests).
-include_lib("eunit/include/eunit.hrl").

-define(SLOT, petri_elixir_test_slot).

spec() ->
    petri_spec:new(#{language => 1, vars => [<<"x">>],
                     cases => [{[X], X * X + 2 * X - 1} || X <- lists:seq(-5, 5)]}).

%% The agent passes Elixir's ebin with -pa; here it is added when installed.
-define(ELIXIR_EBIN, "/usr/lib/elixir/lib/elixir/ebin").

elixir_test_() ->
    _ = filelib:is_dir(?ELIXIR_EBIN) andalso code:add_pathz(?ELIXIR_EBIN),
    case petri_elixir:available() of
        false ->
            [?_assertEqual({error, unsupported, <<"elixir is not installed on this host">>},
                           petri_elixir:to_forms(spec(), <<"defmodule Genome do end">>))];
        true ->
            [fun eval_ok/0, fun rebinding/0, fun helpers/0, fun rejected/0, fun parse_errors/0]
    end.

job(Src) ->
    R = petri_eval:job(spec(), Src, ?SLOT),
    _ = code:purge(?SLOT),
    R.

eval_ok() ->
    ?assertMatch({ok, 0.0, _, _, _},
                 job(<<"defmodule Genome do\n  def f(x), do: x * x + 2 * x - 1\nend\n">>)).

rebinding() ->
    ?assertMatch({ok, 0.0, _, _, _},
                 job(<<"defmodule Genome do\n  def f(x) do\n    y = x * x\n    y = y + 2 * x\n    y - 1\n  end\nend\n">>)).

helpers() ->
    ?assertMatch({ok, F, _, _, _} when is_float(F),
                 job(<<"defmodule Genome do\n  def f(x), do: helper_fun(x) + :math.sin(x) + abs(x) + div(3, 2)\n"
                       "  defp helper_fun(x), do: max(x, 1.5) - rem(7, 3)\nend\n">>)),
    %% defp is not exported
    ?assertMatch({compile_error, _, <<"function f/1 is not exported">>, _, _},
                 job(<<"defmodule Genome do\n  defp f(x), do: x\nend\n">>)).

%% Identifiers must already be atoms (existing_atoms_only); these exist
%% because this module names them, so the allowlist scan is what rejects.
atoms() -> ['File', 'System', 'IO', 'Other', read, cmd, puts, helper_fun].

rejected() ->
    _ = atoms(),
    [?assertMatch({unsafe, nan, _, _, 0}, job(S), S) || S <- [
        <<"defmodule Genome do\n  def f(x), do: File.read(x)\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: System.cmd(\"ls\", [])\nend\n">>,
        <<"defmodule Genome do\n  IO.puts(\"compile time\")\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: :os.cmd(x)\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: apply(:os, :cmd, [x])\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: send(self(), x)\nend\n">>,
        <<"defmodule Genome do\n  def f(x) when x > 0, do: x\nend\n">>,
        <<"defmodule Other do\n  def f(x), do: x\nend\n">>,
        <<"IO.puts(1)">>]].

parse_errors() ->
    ?assertMatch({parse_error, nan, <<"line 2: unsafe atom does not exist", _/binary>>, _, 0},
                 job(<<"defmodule Genome do\n  def f(x), do: zz_never_an_atom_petri(x)\nend\n">>)),
    ?assertMatch({parse_error, nan, _, _, 0}, job(<<"defmodule Genome do\n  def f(x), do: \nend\n">>)),
    ?assertMatch({parse_error, nan, <<"source is", _/binary>>, _, 0}, job(binary:copy(<<" ">>, 70000))).
