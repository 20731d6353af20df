# expect: unsafe
defmodule G do
  @external_resource "/etc/passwd"
  def sort(x), do: x
end
