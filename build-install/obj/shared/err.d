build-install/obj/shared/err.o: shared/err.c shared/err.h
shared/err.h:
