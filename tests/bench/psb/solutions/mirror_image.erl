%% mirror-image: whether the second list is the first reversed.
-module(mirror_image).
-export([mirror_image/2]).

mirror_image(A, B) -> lists:reverse(A) =:= B.
