# expect: unsafe
defmodule G do
  def sort(x), do: IO.puts(x)
end
