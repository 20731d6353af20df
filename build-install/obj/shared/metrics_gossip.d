build-install/obj/shared/metrics_gossip.o: shared/metrics_gossip.c \
 shared/gossip.h shared/config.h shared/crypto.h shared/loop.h \
 shared/swim.h shared/metrics.h
shared/gossip.h:
shared/config.h:
shared/crypto.h:
shared/loop.h:
shared/swim.h:
shared/metrics.h:
