build-install/obj/shared/attest.o: shared/attest.c shared/attest.h \
 shared/crypto.h shared/wire.h shared/err.h
shared/attest.h:
shared/crypto.h:
shared/wire.h:
shared/err.h:
