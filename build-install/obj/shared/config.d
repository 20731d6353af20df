build-install/obj/shared/config.o: shared/config.c shared/config.h \
 shared/err.h shared/util.h
shared/config.h:
shared/err.h:
shared/util.h:
