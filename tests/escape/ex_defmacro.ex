# expect: unsafe
defmodule G do
  defmacro boom(), do: :os.cmd(~c"touch pwned")
  def sort(x), do: x
end
