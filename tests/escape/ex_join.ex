# expect: crash
defmodule G do
  def sort(x) do
    b = String.duplicate("x", 8_000_000)
    byte_size(Enum.join([b, b, b], String.duplicate("y", x * 4_000_000)))
  end
end
