build-install/obj/coordinator/work_auth.o: coordinator/work_auth.c \
 shared/err.h shared/log.h shared/wire.h coordinator/work_int.h \
 coordinator/work.h shared/crypto.h shared/loop.h coordinator/pop.h \
 shared/spec.h shared/wire.h shared/wsess.h shared/crypto.h
shared/err.h:
shared/log.h:
shared/wire.h:
coordinator/work_int.h:
coordinator/work.h:
shared/crypto.h:
shared/loop.h:
coordinator/pop.h:
shared/spec.h:
shared/wire.h:
shared/wsess.h:
shared/crypto.h:
