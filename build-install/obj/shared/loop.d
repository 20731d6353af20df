build-install/obj/shared/loop.o: shared/loop.c shared/loop.h shared/err.h
shared/loop.h:
shared/err.h:
