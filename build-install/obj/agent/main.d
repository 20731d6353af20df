build-install/obj/agent/main.o: agent/main.c shared/config.h \
 shared/crypto.h agent/ctl.h shared/loop.h agent/daemon.h shared/err.h \
 agent/live.h agent/oneshot.h agent/pool.h shared/metrics.h shared/spec.h \
 shared/wire.h shared/wire.h agent/settings.h
shared/config.h:
shared/crypto.h:
agent/ctl.h:
shared/loop.h:
agent/daemon.h:
shared/err.h:
agent/live.h:
agent/oneshot.h:
agent/pool.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
agent/settings.h:
