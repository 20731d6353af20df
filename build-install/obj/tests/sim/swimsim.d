build-install/obj/tests/sim/swimsim.o: tests/sim/swimsim.c \
 tests/sim/sim_scenario.h
tests/sim/sim_scenario.h:
