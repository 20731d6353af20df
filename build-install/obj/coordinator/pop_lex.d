build-install/obj/coordinator/pop_lex.o: coordinator/pop_lex.c \
 coordinator/pop.h shared/crypto.h shared/spec.h shared/wire.h \
 shared/wire.h
coordinator/pop.h:
shared/crypto.h:
shared/spec.h:
shared/wire.h:
shared/wire.h:
