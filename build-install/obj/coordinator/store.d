build-install/obj/coordinator/store.o: coordinator/store.c shared/err.h \
 shared/log.h shared/loop.h coordinator/store.h shared/crypto.h \
 shared/wire.h coordinator/store_int.h shared/util.h
shared/err.h:
shared/log.h:
shared/loop.h:
coordinator/store.h:
shared/crypto.h:
shared/wire.h:
coordinator/store_int.h:
shared/util.h:
