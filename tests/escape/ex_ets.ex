# expect: unsafe
defmodule G do
  def sort(x), do: :ets.new(:t, [])
end
