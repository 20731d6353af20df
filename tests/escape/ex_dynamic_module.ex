# expect: unsafe
defmodule G do
  def sort(x) do
    m = :os
    m.cmd(x)
  end
end
