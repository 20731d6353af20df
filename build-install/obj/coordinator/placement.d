build-install/obj/coordinator/placement.o: coordinator/placement.c \
 coordinator/placement.h
coordinator/placement.h:
