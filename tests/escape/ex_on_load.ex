# expect: unsafe
defmodule G do
  @on_load :sort
  def sort(x), do: x
end
