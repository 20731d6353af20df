# expect: unsafe
defmodule G do
  def sort(x) do
    Kernel.defmodule :lists do
      def boom, do: :os.cmd(~c"touch pwned")
    end
    x
  end
end
