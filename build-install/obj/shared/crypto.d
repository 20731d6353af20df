build-install/obj/shared/crypto.o: shared/crypto.c shared/crypto.h \
 shared/err.h shared/log.h shared/util.h
shared/crypto.h:
shared/err.h:
shared/log.h:
shared/util.h:
