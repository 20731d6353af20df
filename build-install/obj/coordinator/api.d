build-install/obj/coordinator/api.o: coordinator/api.c \
 coordinator/api_mut.h coordinator/coord.h shared/config.h \
 shared/crypto.h shared/gossip.h shared/config.h shared/crypto.h \
 shared/loop.h shared/swim.h shared/http.h shared/loop.h shared/metrics.h \
 coordinator/pop.h shared/spec.h shared/wire.h shared/wire.h \
 coordinator/store.h coordinator/work.h shared/wsess.h shared/cluster.h \
 shared/err.h shared/log.h
coordinator/api_mut.h:
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
shared/cluster.h:
shared/err.h:
shared/log.h:
