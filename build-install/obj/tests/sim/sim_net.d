build-install/obj/tests/sim/sim_net.o: tests/sim/sim_net.c \
 tests/sim/sim.h shared/swim.h
tests/sim/sim.h:
shared/swim.h:
