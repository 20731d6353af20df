defmodule Genome do
  # Sorts a list of integers descending, then ascending again, by pipes.
  def sort(list) do
    list
    |> Enum.sort(:desc)
    |> Enum.reverse()
    |> Enum.map(&keep/1)
  end

  defp keep(x) when is_integer(x), do: x
end
