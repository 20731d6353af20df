build-install/obj/coordinator/cli_pop.o: coordinator/cli_pop.c \
 coordinator/cli_int.h coordinator/cli.h coordinator/client.h \
 shared/err.h shared/util.h
coordinator/cli_int.h:
coordinator/cli.h:
coordinator/client.h:
shared/err.h:
shared/util.h:
