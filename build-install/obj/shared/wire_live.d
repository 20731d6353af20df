build-install/obj/shared/wire_live.o: shared/wire_live.c \
 shared/wire_live.h shared/wire.h shared/err.h
shared/wire_live.h:
shared/wire.h:
shared/err.h:
