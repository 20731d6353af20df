build-install/obj/coordinator/demo.o: coordinator/demo.c \
 coordinator/demo.h coordinator/cli.h coordinator/client.h \
 shared/crypto.h shared/err.h shared/util.h
coordinator/demo.h:
coordinator/cli.h:
coordinator/client.h:
shared/crypto.h:
shared/err.h:
shared/util.h:
