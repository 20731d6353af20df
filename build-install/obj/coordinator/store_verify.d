build-install/obj/coordinator/store_verify.o: coordinator/store_verify.c \
 shared/attest.h shared/crypto.h shared/wire.h shared/err.h \
 coordinator/store.h shared/crypto.h shared/wire.h \
 coordinator/store_int.h
shared/attest.h:
shared/crypto.h:
shared/wire.h:
shared/err.h:
coordinator/store.h:
shared/crypto.h:
shared/wire.h:
coordinator/store_int.h:
