build-install/obj/agent/ackpt.o: agent/ackpt.c agent/ackpt.h \
 shared/ckpt.h shared/crypto.h shared/err.h shared/log.h shared/util.h
agent/ackpt.h:
shared/ckpt.h:
shared/crypto.h:
shared/err.h:
shared/log.h:
shared/util.h:
