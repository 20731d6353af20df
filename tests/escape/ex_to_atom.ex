# expect: unsafe
defmodule G do
  def sort(x), do: String.to_atom("a#{x}")
end
