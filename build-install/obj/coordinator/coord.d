build-install/obj/coordinator/coord.o: coordinator/coord.c \
 coordinator/coord.h shared/config.h shared/crypto.h shared/gossip.h \
 shared/config.h shared/crypto.h shared/loop.h shared/swim.h \
 shared/http.h shared/loop.h shared/metrics.h coordinator/pop.h \
 shared/spec.h shared/wire.h shared/wire.h coordinator/store.h \
 coordinator/work.h shared/wsess.h coordinator/api_mut.h shared/err.h \
 shared/log.h shared/cluster.h coordinator/placement.h \
 coordinator/settings.h shared/util.h
coordinator/coord.h:
shared/config.h:
shared/crypto.h:
shared/gossip.h:
shared/config.h:
shared/crypto.h:
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
coordinator/api_mut.h:
shared/err.h:
shared/log.h:
shared/cluster.h:
coordinator/placement.h:
coordinator/settings.h:
shared/util.h:
