build-install/obj/agent/pool.o: agent/pool.c agent/pool.h shared/loop.h \
 shared/metrics.h shared/spec.h shared/wire.h shared/wire.h shared/err.h \
 shared/log.h agent/vm.h
agent/pool.h:
shared/loop.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/err.h:
shared/log.h:
agent/vm.h:
