# expect: unsafe
defmodule G do
  def sort(x), do: quote(do: x)
end
