# expect: unsafe
defmodule G do
  def sort(_), do: Enum.to_list(%{__struct__: File.Stream, path: "/etc/passwd"})
end
