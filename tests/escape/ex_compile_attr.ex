# expect: unsafe
defmodule G do
  @compile {:autoload, true}
  def sort(x), do: x
end
