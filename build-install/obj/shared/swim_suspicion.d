build-install/obj/shared/swim_suspicion.o: shared/swim_suspicion.c \
 shared/swim_int.h shared/swim.h shared/wire.h
shared/swim_int.h:
shared/swim.h:
shared/wire.h:
