build-install/obj/coordinator/cli_lineage.o: coordinator/cli_lineage.c \
 coordinator/cli_int.h coordinator/cli.h coordinator/client.h \
 shared/err.h shared/loop.h coordinator/store_export.h \
 coordinator/store.h shared/crypto.h shared/wire.h shared/util.h
coordinator/cli_int.h:
coordinator/cli.h:
coordinator/client.h:
shared/err.h:
shared/loop.h:
coordinator/store_export.h:
coordinator/store.h:
shared/crypto.h:
shared/wire.h:
shared/util.h:
