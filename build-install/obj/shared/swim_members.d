build-install/obj/shared/swim_members.o: shared/swim_members.c \
 shared/swim_int.h shared/swim.h shared/wire.h
shared/swim_int.h:
shared/swim.h:
shared/wire.h:
