# expect: unsafe
defmodule G do
  use Bitwise
  def sort(x), do: x
end
