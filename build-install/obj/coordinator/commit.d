build-install/obj/coordinator/commit.o: coordinator/commit.c \
 shared/ckpt.h shared/crypto.h shared/cluster.h shared/config.h \
 coordinator/coord.h shared/config.h shared/crypto.h shared/gossip.h \
 shared/loop.h shared/swim.h shared/http.h shared/loop.h shared/metrics.h \
 coordinator/pop.h shared/spec.h shared/wire.h shared/wire.h \
 coordinator/store.h coordinator/work.h shared/wsess.h shared/err.h \
 shared/log.h shared/util.h
shared/ckpt.h:
shared/crypto.h:
shared/cluster.h:
shared/config.h:
coordinator/coord.h:
shared/config.h:
shared/crypto.h:
shared/gossip.h:
shared/loop.h:
shared/swim.h:
shared/http.h:
shared/loop.h:
shared/metrics.h:
coordinator/pop.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
coordinator/store.h:
coordinator/work.h:
shared/wsess.h:
shared/err.h:
shared/log.h:
shared/util.h:
