# Elixir's own sort: scores every case of sort-elixir.json.
defmodule Genome do
  def sort(list), do: Enum.sort(list)
end
