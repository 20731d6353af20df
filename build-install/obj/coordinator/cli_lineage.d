build-install/obj/coordinator/cli_lineage.o: coordinator/cli_lineage.c \
 coordinator/cli_int.h coordinator/cli.h coordinator/client.h \
 shared/err.h shared/loop.h shared/util.h
coordinator/cli_int.h:
coordinator/cli.h:
coordinator/client.h:
shared/err.h:
shared/loop.h:
shared/util.h:
