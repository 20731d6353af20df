build-install/obj/agent/live_input.o: agent/live_input.c shared/err.h \
 shared/etf.h agent/live_int.h shared/loop.h agent/vm.h shared/wire.h \
 shared/wire_live.h shared/wire.h shared/spec.h shared/util.h
shared/err.h:
shared/etf.h:
agent/live_int.h:
shared/loop.h:
agent/vm.h:
shared/wire.h:
shared/wire_live.h:
shared/wire.h:
shared/spec.h:
shared/util.h:
