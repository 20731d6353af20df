build-install/obj/coordinator/api.o: coordinator/api.c shared/cluster.h \
 shared/config.h shared/crypto.h coordinator/coord.h shared/config.h \
 shared/crypto.h shared/gossip.h shared/loop.h shared/swim.h \
 shared/http.h shared/loop.h shared/metrics.h coordinator/pop.h \
 shared/spec.h shared/wire.h shared/wire.h coordinator/store.h \
 coordinator/work.h shared/wsess.h shared/err.h shared/log.h
shared/cluster.h:
shared/config.h:
shared/crypto.h:
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
