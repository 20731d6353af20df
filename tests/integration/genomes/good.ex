defmodule Genome do
  def f(x), do: x * x + 2 * x - 1
end
