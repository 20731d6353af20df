# expect: crash
defmodule G do
  def sort(x), do: Integer.pow(x + 2, 100_000_000)
end
