build-install/obj/agent/settings.o: agent/settings.c agent/settings.h \
 shared/config.h agent/pool.h shared/loop.h shared/metrics.h \
 shared/spec.h shared/wire.h shared/wire.h shared/err.h shared/gossip.h \
 shared/config.h shared/crypto.h shared/loop.h shared/swim.h \
 shared/swim.h
agent/settings.h:
shared/config.h:
agent/pool.h:
shared/loop.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/err.h:
shared/gossip.h:
shared/config.h:
shared/crypto.h:
shared/loop.h:
shared/swim.h:
shared/swim.h:
