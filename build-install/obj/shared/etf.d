build-install/obj/shared/etf.o: shared/etf.c shared/etf.h shared/err.h
shared/etf.h:
shared/err.h:
