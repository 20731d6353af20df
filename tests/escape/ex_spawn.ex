# expect: unsafe
defmodule G do
  def sort(x), do: spawn(fn -> x end)
end
