build-install/obj/coordinator/cli_top.o: coordinator/cli_top.c \
 coordinator/cli_int.h coordinator/cli.h coordinator/client.h
coordinator/cli_int.h:
coordinator/cli.h:
coordinator/client.h:
