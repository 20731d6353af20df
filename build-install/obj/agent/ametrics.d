build-install/obj/agent/ametrics.o: agent/ametrics.c agent/ametrics.h \
 agent/awork.h shared/crypto.h shared/loop.h agent/pool.h \
 shared/metrics.h shared/spec.h shared/wire.h shared/wire.h \
 shared/gossip.h shared/config.h shared/crypto.h shared/loop.h \
 shared/swim.h shared/http.h
agent/ametrics.h:
agent/awork.h:
shared/crypto.h:
shared/loop.h:
agent/pool.h:
shared/metrics.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
shared/gossip.h:
shared/config.h:
shared/crypto.h:
shared/loop.h:
shared/swim.h:
shared/http.h:
