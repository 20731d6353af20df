build-install/obj/coordinator/store_export.o: coordinator/store_export.c \
 coordinator/store_export.h coordinator/store.h shared/crypto.h \
 shared/wire.h shared/attest.h shared/crypto.h shared/wire.h shared/err.h
coordinator/store_export.h:
coordinator/store.h:
shared/crypto.h:
shared/wire.h:
shared/attest.h:
shared/crypto.h:
shared/wire.h:
shared/err.h:
