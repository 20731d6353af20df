build-install/obj/shared/cluster.o: shared/cluster.c shared/cluster.h \
 shared/config.h shared/crypto.h shared/err.h shared/gossip.h \
 shared/loop.h shared/swim.h shared/log.h
shared/cluster.h:
shared/config.h:
shared/crypto.h:
shared/err.h:
shared/gossip.h:
shared/loop.h:
shared/swim.h:
shared/log.h:
