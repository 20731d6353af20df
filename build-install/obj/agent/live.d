build-install/obj/agent/live.o: agent/live.c agent/live.h shared/crypto.h \
 shared/err.h shared/log.h shared/loop.h agent/settings.h shared/config.h \
 agent/pool.h shared/metrics.h shared/spec.h shared/wire.h shared/wire.h \
 shared/util.h agent/vm.h shared/wire_live.h agent/live_int.h
agent/live.h:
shared/crypto.h:
shared/err.h:
shared/log.h:
shared/loop.h:
agent/settings.h:
shared/config.h:
agent/pool.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/util.h:
agent/vm.h:
shared/wire_live.h:
agent/live_int.h:
