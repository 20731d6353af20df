# expect: crash
defmodule G do
  def sort(x), do: length(List.duplicate(x, x * 1_000_000_000_000))
end
