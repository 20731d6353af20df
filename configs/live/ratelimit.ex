# ratelimit.ex - parent.erl's fixed-window rate limiter in Elixir: at most 5
# hits per client in each 1000 ms window. State: %{client => {window, count}}.
# A live population with language elixir runs it (and breeds from it).
defmodule Ratelimit do
  def init(_), do: %{}

  def handle({:hit, c, t}, s) do
    w = div(t, 1000)

    case Map.get(s, c, {w, 0}) do
      {^w, n} when n < 5 -> {:allow, Map.put(s, c, {w, n + 1})}
      {^w, _} -> {:deny, s}
      _ -> {:allow, Map.put(s, c, {w, 1})}
    end
  end
end
