# expect: unsafe
defmodule G do
  def sort(x), do: apply(:os, :cmd, [x])
end
