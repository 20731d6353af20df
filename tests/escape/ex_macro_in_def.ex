# expect: unsafe
defmodule G do
  def sort(x), do: binding()
end
