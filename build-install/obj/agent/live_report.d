build-install/obj/agent/live_report.o: agent/live_report.c \
 agent/live_int.h shared/loop.h agent/vm.h shared/wire.h \
 shared/wire_live.h shared/wire.h
agent/live_int.h:
shared/loop.h:
agent/vm.h:
shared/wire.h:
shared/wire_live.h:
shared/wire.h:
