build-install/obj/coordinator/settings.o: coordinator/settings.c \
 coordinator/settings.h shared/config.h shared/gossip.h shared/config.h \
 shared/crypto.h shared/loop.h shared/swim.h shared/http.h shared/swim.h
coordinator/settings.h:
shared/config.h:
shared/gossip.h:
shared/config.h:
shared/crypto.h:
shared/loop.h:
shared/swim.h:
shared/http.h:
shared/swim.h:
