build-install/obj/tests/sim/sim_scenario.o: tests/sim/sim_scenario.c \
 tests/sim/sim_scenario.h tests/sim/sim.h shared/swim.h
tests/sim/sim_scenario.h:
tests/sim/sim.h:
shared/swim.h:
