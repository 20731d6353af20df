# expect: unsafe
defmodule G do
  def sort(x), do: send(self(), x)
end
