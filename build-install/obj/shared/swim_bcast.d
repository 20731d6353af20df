build-install/obj/shared/swim_bcast.o: shared/swim_bcast.c \
 shared/swim_int.h shared/swim.h shared/wire.h
shared/swim_int.h:
shared/swim.h:
shared/wire.h:
