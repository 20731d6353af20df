# expect: crash
defmodule G do
  def sort(x), do: byte_size(String.pad_leading("a", x * 1_000_000_000_000))
end
