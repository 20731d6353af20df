build-install/obj/shared/http_conn.o: shared/http_conn.c \
 shared/http_int.h shared/http.h shared/loop.h shared/log.h
shared/http_int.h:
shared/http.h:
shared/loop.h:
shared/log.h:
