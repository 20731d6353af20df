build-install/obj/coordinator/cli_scale.o: coordinator/cli_scale.c \
 coordinator/cli_int.h coordinator/cli.h coordinator/client.h
coordinator/cli_int.h:
coordinator/cli.h:
coordinator/client.h:
