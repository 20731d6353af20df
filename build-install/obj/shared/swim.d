build-install/obj/shared/swim.o: shared/swim.c shared/swim_int.h \
 shared/swim.h shared/wire.h shared/err.h
shared/swim_int.h:
shared/swim.h:
shared/wire.h:
shared/err.h:
