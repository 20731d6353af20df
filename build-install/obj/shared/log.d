build-install/obj/shared/log.o: shared/log.c shared/log.h
shared/log.h:
