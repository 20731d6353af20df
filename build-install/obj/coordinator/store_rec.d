build-install/obj/coordinator/store_rec.o: coordinator/store_rec.c \
 shared/err.h shared/attest.h shared/crypto.h shared/wire.h \
 coordinator/store.h shared/crypto.h shared/wire.h \
 coordinator/store_int.h
shared/err.h:
shared/attest.h:
shared/crypto.h:
shared/wire.h:
coordinator/store.h:
shared/crypto.h:
shared/wire.h:
coordinator/store_int.h:
