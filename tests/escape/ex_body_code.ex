# expect: unsafe
defmodule G do
  :os.cmd(~c"touch pwned")
  def sort(x), do: x
end
