build-install/obj/coordinator/cli.o: coordinator/cli.c coordinator/cli.h \
 coordinator/cli_int.h coordinator/client.h shared/crypto.h shared/err.h \
 coordinator/store.h shared/wire.h shared/util.h
coordinator/cli.h:
coordinator/cli_int.h:
coordinator/client.h:
shared/crypto.h:
shared/err.h:
coordinator/store.h:
shared/wire.h:
shared/util.h:
