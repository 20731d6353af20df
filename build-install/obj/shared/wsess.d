build-install/obj/shared/wsess.o: shared/wsess.c shared/wsess.h \
 shared/crypto.h shared/err.h
shared/wsess.h:
shared/crypto.h:
shared/err.h:
