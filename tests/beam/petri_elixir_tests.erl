%% petri_elixir_tests - Elixir genomes through the real compiler: evaluation,
%% whole modules, and rejections before anything is compiled.
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
            %% the first one starts Elixir: slow on a loaded machine
            [{timeout, 120, F} || F <- [fun eval_ok/0, fun rebinding/0, fun helpers/0, fun rejected/0,
                                        fun parse_errors/0, fun modules/0, fun esort/0, fun limits/0,
                                        fun not_loaded/0]]
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
atoms() -> ['File', 'System', 'IO', 'Other', read, cmd, puts, helper_fun, 'GenServer', 'Function',
           'Code', 'Module', 'Macro', eval_string, capture, 'Stream', 'Process', on_load, external_resource,
           before_compile, after_compile, defmacro, 'Regex', 'Agent', 'Access', 'Logger', two, sq].

rejected() ->
    _ = atoms(),
    [?assertMatch({unsafe, nan, _, _, 0}, job(S), S) || S <- [
        <<"defmodule Genome do\n  def f(x), do: File.read(x)\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: System.cmd(\"ls\", [])\nend\n">>,
        <<"defmodule Genome do\n  IO.puts(\"compile time\")\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: :os.cmd(x)\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: apply(:os, :cmd, [x])\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: send(self(), x)\nend\n">>,
        <<"defmodule Genome do\n  @on_load :f\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  @external_resource \"/etc/passwd\"\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  @before_compile Genome\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  @after_compile Genome\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  @k File.read!(\"/etc/passwd\")\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  defmacro m(), do: IO.puts(1)\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  use GenServer\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  require Logger\n  def f(x), do: x\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: Code.eval_string(\"1\")\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: Function.capture(:os, :cmd, 1)\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: &:os.cmd/1\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: quote(do: unquote(x))\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: x.cmd\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: ~w(a b)a\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: ~r/(a+)+$/\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: Enum.to_list(%{__struct__: File.Stream, path: \"/etc/passwd\"})\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: %{a: x}[:a]\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: receive(do: (y -> y))\nend\n">>,
        <<"IO.puts(1)">>]].

%% Whole modules: guards, pattern matching, helpers, strings, pipes.
modules() ->
    _ = atoms(),
    ?assertMatch({ok, 0.0, _, _, _},
                 job(<<"defmodule Other do\n  @moduledoc \"Squares.\"\n  @two 2\n  @spec f(integer()) :: integer()\n  def f(x) when is_integer(x), do: sq(x) + @two * x - 1\n"
                       "  def f(x), do: x\n  defp sq(y), do: y |> List.wrap() |> Enum.map(&(&1 * &1)) |> hd()\nend\n">>)),
    ?assertMatch({ok, 0.0, _, _, _},
                 job(<<"defmodule Genome do\n  import Bitwise\n  def f(x) do\n    s = \"#{x}\"\n"
                       "    n = String.length(s) - String.length(s)\n    (x * x + (x <<< 1) - 1) + n\n  end\nend\n">>)).

%% tests/integration/genomes/esort.ex sorts through Enum and pipes.
esort() ->
    {ok, Src} = file:read_file(filename:join([filename:dirname(code:which(?MODULE)), "..", "..",
                                              "tests", "integration", "genomes", "esort.ex"])),
    M = petri_elixir_test_esort,
    ?assertEqual(ok, petri_loader:load(petri_spec:new(#{function => <<"sort">>, arity => 1, language => 1}), Src, M)),
    ?assertEqual([-2, 0, 1, 1, 3, 5, 9], M:sort([5, 3, 9, 1, 1, 0, -2])).

%% Size-controlled work is checked at run time, nothing runs at compile time.
limits() ->
    _ = atoms(),
    [?assertMatch({crash, nan, <<"case 1: error:{petri_limit", _/binary>>, _, _}, job(S), S) || S <- [
        <<"defmodule Genome do\n  import Bitwise\n  def f(x), do: 1 <<< 100_000_000 + x\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: byte_size(String.duplicate(\"ab\", 1_000_000_000)) + x\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: Integer.pow(x + 7, 100_000_000)\nend\n">>,
        <<"defmodule Genome do\n  import Bitwise\n  def f(x), do: length(List.duplicate(x, 1 <<< 40))\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: hd(Enum.sort([x], Stream))\nend\n">>,
        <<"defmodule Genome do\n  def f(x), do: sq(x + 3, 40)\n  defp sq(y, 0), do: y\n  defp sq(y, n), do: sq(y * y, n - 1)\nend\n">>]].

%% The compiler loads nothing: the scratch module never exists.
not_loaded() ->
    _ = job(<<"defmodule Genome do\n  def f(x), do: x\nend\n">>),
    ?assertEqual(false, code:is_loaded(petri_elixir_scratch)).

parse_errors() ->
    %% a new name becomes an atom (and then is an undefined function here) ...
    ?assertMatch({compile_error, nan, <<"line 2: undefined function zz_never_an_atom_petri/1", _/binary>>, _, 0},
                 job(<<"defmodule Genome do\n  def f(x), do: zz_never_an_atom_petri(x)\nend\n">>)),
    %% ... up to 64 of them
    Many = iolist_to_binary(["defmodule Genome do\n  def f(x), do: [",
                             lists:join(", ", [io_lib:format("petri_fresh_~b", [I]) || I <- lists:seq(1, 70)]),
                             "]\nend\n"]),
    ?assertMatch({parse_error, nan, <<"source would create more than 64 new atoms">>, _, 0}, job(Many)),
    %% a new alias names no allowed module
    ?assertMatch({unsafe, nan, <<"line 2: PetriNeverAModule is not an allowed module">>, _, 0},
                 job(<<"defmodule Genome do\n  def f(x), do: PetriNeverAModule.f(x)\nend\n">>)),
    ?assertMatch({parse_error, nan, _, _, 0}, job(<<"defmodule Genome do\n  def f(x), do: \nend\n">>)),
    ?assertMatch({parse_error, nan, <<"source is", _/binary>>, _, 0}, job(binary:copy(<<" ">>, 70000))).
