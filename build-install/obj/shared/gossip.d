build-install/obj/shared/gossip.o: shared/gossip.c shared/gossip.h \
 shared/config.h shared/crypto.h shared/loop.h shared/swim.h shared/err.h \
 shared/log.h shared/util.h shared/wire.h
shared/gossip.h:
shared/config.h:
shared/crypto.h:
shared/loop.h:
shared/swim.h:
shared/err.h:
shared/log.h:
shared/util.h:
shared/wire.h:
