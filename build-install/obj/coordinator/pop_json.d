build-install/obj/coordinator/pop_json.o: coordinator/pop_json.c \
 shared/err.h shared/log.h coordinator/pop.h shared/crypto.h \
 shared/spec.h shared/wire.h shared/wire.h
shared/err.h:
shared/log.h:
coordinator/pop.h:
shared/crypto.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
