build-install/obj/shared/http.o: shared/http.c shared/http.h \
 shared/loop.h shared/err.h shared/http_int.h shared/log.h
shared/http.h:
shared/loop.h:
shared/err.h:
shared/http_int.h:
shared/log.h:
