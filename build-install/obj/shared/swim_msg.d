build-install/obj/shared/swim_msg.o: shared/swim_msg.c shared/swim_int.h \
 shared/swim.h shared/wire.h shared/err.h
shared/swim_int.h:
shared/swim.h:
shared/wire.h:
shared/err.h:
