build-install/obj/shared/ckpt.o: shared/ckpt.c shared/ckpt.h \
 shared/crypto.h shared/err.h shared/wire.h
shared/ckpt.h:
shared/crypto.h:
shared/err.h:
shared/wire.h:
