build-install/obj/agent/vm.o: agent/vm.c agent/vm.h shared/loop.h \
 shared/err.h shared/log.h
agent/vm.h:
shared/loop.h:
shared/err.h:
shared/log.h:
