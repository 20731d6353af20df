%% expect: unsafe
-module(g).
-export([sort/1]).
sort(_) -> 'Elixir.Enum':to_list(#{'__struct__' => 'Elixir.File.Stream', path => <<"/etc/passwd">>}).
