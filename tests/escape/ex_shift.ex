# expect: crash
defmodule G do
  import Bitwise
  def sort(x), do: 1 <<< (x * 100_000_000)
end
