build-install/obj/coordinator/pop.o: coordinator/pop.c coordinator/pop.h \
 shared/crypto.h shared/spec.h shared/wire.h shared/wire.h shared/err.h \
 shared/log.h
coordinator/pop.h:
shared/crypto.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/err.h:
shared/log.h:
