build-install/obj/shared/metrics.o: shared/metrics.c shared/metrics.h \
 shared/http.h shared/loop.h
shared/metrics.h:
shared/http.h:
shared/loop.h:
