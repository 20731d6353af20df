build-install/obj/shared/spec.o: shared/spec.c shared/spec.h \
 shared/wire.h shared/err.h shared/etf.h shared/util.h
shared/spec.h:
shared/wire.h:
shared/err.h:
shared/etf.h:
shared/util.h:
