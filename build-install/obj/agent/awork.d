build-install/obj/agent/awork.o: agent/awork.c agent/awork.h \
 shared/crypto.h shared/loop.h agent/pool.h shared/metrics.h \
 shared/spec.h shared/wire.h shared/wire.h shared/attest.h \
 shared/crypto.h shared/err.h shared/log.h shared/wsess.h
agent/awork.h:
shared/crypto.h:
shared/loop.h:
agent/pool.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/attest.h:
shared/crypto.h:
shared/err.h:
shared/log.h:
shared/wsess.h:
