# expect: unsafe
defmodule G do
  def sort(x), do: Function.capture(:os, :cmd, 1).(x)
end
