# expect: crash
defmodule G do
  def sort(x), do: sq(x + 2, 40)
  defp sq(y, 0), do: y
  defp sq(y, n), do: sq(y * y, n - 1)
end
