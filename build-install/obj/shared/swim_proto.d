build-install/obj/shared/swim_proto.o: shared/swim_proto.c \
 shared/swim_int.h shared/swim.h shared/wire.h shared/err.h
shared/swim_int.h:
shared/swim.h:
shared/wire.h:
shared/err.h:
