# expect: crash
defmodule G do
  def sort(x), do: Enum.sum(Enum.to_list(1..(x * 1_000_000_000_000)))
end
