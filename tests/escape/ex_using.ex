# expect: unsafe
defmodule G do
  import Bitwise
  def sort(x), do: __using__([]) && x
end
