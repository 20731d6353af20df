build-install/obj/coordinator/client.o: coordinator/client.c \
 coordinator/client.h shared/err.h shared/loop.h
coordinator/client.h:
shared/err.h:
shared/loop.h:
