build-install/obj/agent/evolve.o: agent/evolve.c shared/crypto.h \
 shared/err.h shared/log.h agent/oneshot.h shared/config.h shared/loop.h \
 agent/pool.h shared/metrics.h shared/spec.h shared/wire.h shared/wire.h \
 shared/util.h
shared/crypto.h:
shared/err.h:
shared/log.h:
agent/oneshot.h:
shared/config.h:
shared/loop.h:
agent/pool.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/util.h:
