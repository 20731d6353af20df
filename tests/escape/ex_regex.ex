# expect: unsafe
defmodule G do
  def sort(x), do: Regex.match?(~r/(a+)+$/, x)
end
