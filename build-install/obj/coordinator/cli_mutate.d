build-install/obj/coordinator/cli_mutate.o: coordinator/cli_mutate.c \
 coordinator/api_mut.h coordinator/coord.h shared/config.h \
 shared/crypto.h shared/gossip.h shared/config.h shared/crypto.h \
 shared/loop.h shared/swim.h shared/http.h shared/loop.h shared/metrics.h \
 coordinator/pop.h shared/spec.h shared/wire.h shared/wire.h \
 coordinator/store.h coordinator/work.h shared/wsess.h \
 coordinator/cli_int.h coordinator/cli.h coordinator/client.h \
 shared/err.h shared/util.h
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
coordinator/cli_int.h:
coordinator/cli.h:
coordinator/client.h:
shared/err.h:
shared/util.h:
