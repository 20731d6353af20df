build-install/obj/agent/oneshot.o: agent/oneshot.c agent/oneshot.h \
 shared/config.h shared/loop.h agent/pool.h shared/metrics.h \
 shared/spec.h shared/wire.h shared/wire.h shared/crypto.h shared/err.h \
 shared/log.h agent/settings.h shared/util.h
agent/oneshot.h:
shared/config.h:
shared/loop.h:
agent/pool.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/crypto.h:
shared/err.h:
shared/log.h:
agent/settings.h:
shared/util.h:
