build-install/obj/coordinator/cli_fmt.o: coordinator/cli_fmt.c \
 coordinator/cli_int.h coordinator/cli.h coordinator/client.h
coordinator/cli_int.h:
coordinator/cli.h:
coordinator/client.h:
