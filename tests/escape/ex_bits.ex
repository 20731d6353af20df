# expect: crash
defmodule G do
  def sort(x), do: byte_size(<<0::size(x * 1_000_000_000_000)>>)
end
