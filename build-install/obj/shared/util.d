build-install/obj/shared/util.o: shared/util.c shared/util.h shared/err.h
shared/util.h:
shared/err.h:
