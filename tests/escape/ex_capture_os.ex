# expect: unsafe
defmodule G do
  def sort(x), do: Enum.map([x], &:os.cmd/1)
end
