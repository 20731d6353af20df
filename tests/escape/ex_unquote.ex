# expect: unsafe
defmodule G do
  def unquote(:sort)(x), do: x
end
