# expect: unsafe
defmodule G do
  @before_compile G
  def sort(x), do: x
end
