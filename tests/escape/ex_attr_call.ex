# expect: unsafe
defmodule G do
  @k :os.cmd(~c"touch pwned")
  def sort(x), do: x
end
