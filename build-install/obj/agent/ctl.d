build-install/obj/agent/ctl.o: agent/ctl.c agent/ctl.h shared/loop.h \
 shared/err.h shared/log.h shared/wire.h
agent/ctl.h:
shared/loop.h:
shared/err.h:
shared/log.h:
shared/wire.h:
