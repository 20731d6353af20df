# expect: unsafe
defmodule G do
  def sort(x), do: Kernel.use(Bitwise) && x
end
