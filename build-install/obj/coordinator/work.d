build-install/obj/coordinator/work.o: coordinator/work.c \
 coordinator/work.h shared/crypto.h shared/loop.h coordinator/pop.h \
 shared/spec.h shared/wire.h shared/wire.h shared/wsess.h shared/crypto.h \
 shared/attest.h shared/err.h shared/log.h coordinator/work_int.h
coordinator/work.h:
shared/crypto.h:
shared/loop.h:
coordinator/pop.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/wsess.h:
shared/crypto.h:
shared/attest.h:
shared/err.h:
shared/log.h:
coordinator/work_int.h:
