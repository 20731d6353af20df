# expect: crash
defmodule G do
  def sort(x), do: byte_size(String.duplicate("ab", x * 1_000_000_000))
end
