build-install/obj/agent/daemon.o: agent/daemon.c agent/daemon.h \
 agent/ackpt.h shared/ckpt.h shared/crypto.h agent/ametrics.h \
 agent/awork.h shared/crypto.h shared/loop.h agent/pool.h \
 shared/metrics.h shared/spec.h shared/wire.h shared/wire.h \
 shared/gossip.h shared/config.h shared/loop.h shared/swim.h \
 shared/cluster.h agent/ctl.h shared/err.h shared/log.h agent/settings.h \
 shared/config.h shared/util.h
agent/daemon.h:
agent/ackpt.h:
shared/ckpt.h:
shared/crypto.h:
agent/ametrics.h:
agent/awork.h:
shared/crypto.h:
shared/loop.h:
agent/pool.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/gossip.h:
shared/config.h:
shared/loop.h:
shared/swim.h:
shared/cluster.h:
agent/ctl.h:
shared/err.h:
shared/log.h:
agent/settings.h:
shared/config.h:
shared/util.h:
