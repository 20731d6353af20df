# expect: unsafe
defmodule G do
  def sort(_), do: ~w(a b c)a
end
