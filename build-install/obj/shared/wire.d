build-install/obj/shared/wire.o: shared/wire.c shared/wire.h shared/err.h
shared/wire.h:
shared/err.h:
