# petri - one GNU Makefile for everything.
#   make            build the C library, petri-agent, petri, the BEAM app, the simulator
#   make test       every suite: cmocka, EUnit, simulator, fuzz smoke, integration, asan
#   make asan       AddressSanitizer + UBSan build of the C code and its tests
#   make demo       a live evolution run
#   make bench      the benchmarks of tests/bench/
#   make deps       install (as root) or name the missing Debian packages

SHELL := /bin/bash
comma := ,
.DEFAULT_GOAL := all

# ---- dependencies ---------------------------------------------------------
# Building needs BUILD_PKGS; the test suites also need TEST_PKGS. `make` and
# `make demo` install only the first set, `make test` both (as root, with
# apt-get; otherwise they print the apt-get line to run).
BUILD_PKGS := build-essential pkg-config libzmq3-dev libsodium-dev liblmdb-dev lmdb-utils \
	erlang-nox erlang-dev libinih-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev elixir
TEST_PKGS := libcmocka-dev python3 python3-pytest clang-format erlang-dialyzer prometheus chromium
PKGS := libzmq libsodium lmdb inih jansson libmicrohttpd libcurl
PYTHON := /usr/bin/python3
DEPS_STAMP := build/.deps-ok
TEST_DEPS_STAMP := build/.test-deps-ok

# $(call install_missing,<missing list>,<packages>)
define install_missing
	if [ -n "$(1)" ]; then \
	  echo "petri: missing:$(1)"; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "petri: installing Debian packages (apt-get)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $(2) \
	      || { echo "petri: apt-get failed"; exit 1; }; \
	  else \
	    echo "petri: run as root:  apt-get install -y $(2)"; exit 1; \
	  fi; \
	fi
endef

$(DEPS_STAMP):
	@mkdir -p build
	@missing=""; \
	for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	command -v erlc >/dev/null || missing="$$missing erlang"; \
	command -v elixir >/dev/null || missing="$$missing elixir"; \
	$(call install_missing,$$missing,$(BUILD_PKGS))
	@touch $@

$(TEST_DEPS_STAMP): $(DEPS_STAMP)
	@missing=""; \
	pkg-config --exists cmocka 2>/dev/null || missing="$$missing cmocka"; \
	command -v clang-format >/dev/null || missing="$$missing clang-format"; \
	command -v dialyzer >/dev/null || missing="$$missing dialyzer"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	$(PYTHON) -c 'import pytest' 2>/dev/null || missing="$$missing pytest"; \
	$(call install_missing,$$missing,$(TEST_PKGS))
	@touch $@

deps: $(DEPS_STAMP)
test-deps: $(TEST_DEPS_STAMP)

# ---- flags ------------------------------------------------------------------
CC ?= cc
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ERL_ROOT = $(shell erl -noshell -eval 'io:format("~s",[code:root_dir()]),halt().' 2>/dev/null)
VERSION := $(shell cat VERSION)
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/petri
MANDIR = $(PREFIX)/share/man/man1
BEAM_DIR_DEFAULT ?= $(CURDIR)/agent/beam/ebin

WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g $(WARN) -Ishared -Iagent -Icoordinator \
	-DPETRI_VERSION=\"$(VERSION)\" -DPETRI_BEAM_DIR=\"$(BEAM_DIR_DEFAULT)\"
OPT ?= -O2
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# B is the build directory; asan builds set B=build-asan and EXTRA=$(SAN_FLAGS)
B ?= build
EXTRA ?=
CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(EXTRA) $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -lpthread

# ---- sources ----------------------------------------------------------------
SHARED_SRC := $(sort $(wildcard shared/*.c))
AGENT_SRC := $(sort $(filter-out agent/main.c,$(wildcard agent/*.c)))
COORD_SRC := $(sort $(filter-out coordinator/main.c,$(wildcard coordinator/*.c)))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
SIM_SRC := $(sort $(wildcard tests/sim/*.c))
BENCH_SRC := $(sort $(wildcard tests/bench/bench_*.c))
# helpers of the integration tests linked with the library (work_attacker.c
# is self-contained and built by its test)
INTEG_SRC := tests/integration/live_coord.c

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
LIBPETRI := $(B)/libpetri.a
LIBAGENT := $(B)/libagent.a
LIBCOORD := $(B)/libcoord.a
AGENT_BIN := $(B)/bin/petri-agent
COORD_BIN := $(B)/bin/petri
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
BENCH_BINS := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))
INTEG_BINS := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(INTEG_SRC))
SIM_BIN := $(if $(SIM_SRC),$(B)/bin/swimsim)
ALL_LIBS = $(LIBCOORD) $(LIBAGENT) $(LIBPETRI)

Q := $(if $(V),,@)
$(B)/obj/%.o: %.c $(DEPS_STAMP) VERSION
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

$(LIBPETRI): $(call obj,$(SHARED_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBAGENT): $(call obj,$(AGENT_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBCOORD): $(call obj,$(COORD_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(AGENT_BIN): $(call obj,agent/main.c) $(LIBAGENT) $(LIBPETRI)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
$(COORD_BIN): $(call obj,coordinator/main.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
$(B)/tests/%: $(call obj,tests/unit/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL) -lcmocka
$(B)/fuzz/%: $(call obj,tests/fuzz/%.c) $(call obj,tests/fuzz/driver.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
$(B)/tests/integration/%: $(call obj,tests/integration/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
$(B)/bench/%: $(call obj,tests/bench/%.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
$(B)/bin/swimsim: $(call obj,$(SIM_SRC)) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

BINS = $(AGENT_BIN) $(if $(wildcard coordinator/main.c),$(COORD_BIN)) $(SIM_BIN) $(INTEG_BINS)
# the programs (build dependencies only) ...
bins: $(BINS)
# ... and the C test, fuzz and benchmark programs (cmocka: a test dependency)
c: $(TEST_DEPS_STAMP) $(BINS) $(UNIT_BINS) $(FUZZ_BINS) $(BENCH_BINS)

# ---- the BEAM application ---------------------------------------------------
ERL_SRC := $(sort $(wildcard agent/beam/src/*.erl))
EBIN := agent/beam/ebin
BEAMS := $(patsubst agent/beam/src/%.erl,$(EBIN)/%.beam,$(ERL_SRC))
ERL_TEST_SRC := $(sort $(wildcard tests/beam/*_tests.erl))
ERL_TEST_EBIN := build/beam-test
ERL_TEST_BEAMS := $(patsubst tests/beam/%.erl,$(ERL_TEST_EBIN)/%.beam,$(ERL_TEST_SRC))

# The app's version comes from VERSION, as a macro (petri_node's HELLO) and in petri.app.
$(EBIN)/%.beam: agent/beam/src/%.erl VERSION $(DEPS_STAMP)
	@mkdir -p $(EBIN)
	erlc -Werror +warn_missing_spec_all '-DPETRI_VERSION="$(VERSION)"' -o $(EBIN) $<
$(EBIN)/petri.app: agent/beam/src/petri.app.src VERSION $(ERL_SRC)
	@mkdir -p $(EBIN)
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@MODULES@/$(subst $(eval) ,$(comma) ,$(notdir $(basename $(ERL_SRC))))/' $< > $@
$(ERL_TEST_EBIN)/%.beam: tests/beam/%.erl $(BEAMS)
	@mkdir -p $(ERL_TEST_EBIN)
	erlc -Werror -pa $(EBIN) -o $(ERL_TEST_EBIN) $<

beam: $(BEAMS) $(if $(wildcard agent/beam/src/petri.app.src),$(EBIN)/petri.app)

all: deps
	@$(MAKE) --no-print-directory bins beam

# docs/allowlist.md is generated from petri_safety's allowlist (a test compares them)
allowlist-doc: beam
	erl -noshell -pa $(EBIN) -eval 'ok = file:write_file("docs/allowlist.md", petri_safety:allowlist_markdown()), halt().'

# ---- tests ------------------------------------------------------------------
unit: c
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

# Dialyzer over the app's sources; the PLT (erts, kernel, stdlib, compiler)
# is built once into build/ (about 2 minutes). Elixir's modules are not in it.
PLT := build/petri.plt
$(PLT): $(TEST_DEPS_STAMP)
	dialyzer --build_plt --output_plt $@ --apps erts kernel stdlib compiler || test -s $@
dialyzer: beam $(PLT)
	dialyzer --plt $(PLT) -Wno_opaque '-DPETRI_VERSION="$(VERSION)"' --src $(ERL_SRC)

beam-test: beam $(ERL_TEST_BEAMS)
	@if [ -n "$(ERL_TEST_SRC)" ]; then \
	  mods=$$(ls $(ERL_TEST_SRC) | xargs -n1 basename | sed 's/\.erl$$//' | paste -sd, -); \
	  erl -noshell -pa $(EBIN) -pa $(ERL_TEST_EBIN) -eval \
	    "case eunit:test([$$mods], [verbose]) of ok -> halt(0); _ -> halt(1) end." ; \
	fi

fuzz-smoke: c
	@fail=0; for f in $(FUZZ_BINS); do n=$$(basename $$f); \
	  echo "== $$n"; $$f -runs=$${FUZZ_RUNS:-20000} tests/fuzz/corpus/$${n#fuzz_} || fail=1; done; exit $$fail

sim-test: c
	@if [ -x tests/sim/run_checks.sh ]; then tests/sim/run_checks.sh $(SIM_BIN); fi

integration: all $(TEST_DEPS_STAMP)
	@if ls tests/integration/test_*.py >/dev/null 2>&1; then \
	  PETRI_BUILD=$(CURDIR)/$(B) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration; fi

asan: deps $(TEST_DEPS_STAMP)
	@$(MAKE) --no-print-directory B=build-asan OPT=-O1 EXTRA="$(SAN_FLAGS)" c
	@export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1; \
	$(MAKE) --no-print-directory B=build-asan OPT=-O1 EXTRA="$(SAN_FLAGS)" unit fuzz-smoke

# coordinator/ui_html.c is generated (coordinator/ui/embed.py): left as generated
FORMAT_FILES = $$(git ls-files '*.c' '*.h' | grep -v '^coordinator/ui_html.c$$')
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run -Werror $(FORMAT_FILES)

test: all test-deps
	@$(MAKE) --no-print-directory format-check unit beam-test dialyzer fuzz-smoke sim-test integration \
	  asan rig-if-docker
	@echo "petri: all suites passed"

# ---- containers and the fault-injection rig (docker/) ----------------------
images:
	docker/rig images
RIG_STEPS ?= all
rig-test: images
	docker/rig test --steps $(RIG_STEPS)
# make test runs the rig, every step, whenever a Docker engine answers
RIG_TEST_STEPS := baseline,badinput,kill,pause,partition,scale,drain,loss
rig-if-docker:
	@if docker info >/dev/null 2>&1 && command -v docker-compose >/dev/null; then \
	  $(MAKE) --no-print-directory rig-test RIG_STEPS=$(RIG_TEST_STEPS); \
	else echo "petri: no Docker engine answers; the container rig is skipped"; fi
rig-bench: images
	docker/rig bench

# ---- demo and benchmarks ------------------------------------------------------
demo: all
	@if [ -x $(COORD_BIN) ]; then $(COORD_BIN) demo; \
	else $(AGENT_BIN) evolve --spec configs/specs/quadratic.json; fi

bench: all
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b; done
	@for s in tests/bench/*.sh tests/bench/*.py; do [ -f "$$s" ] || continue; echo "== $$s"; \
	  case $$s in *.py) PETRI_BUILD=$(CURDIR)/$(B) $(PYTHON) $$s;; *) PETRI_BUILD=$(CURDIR)/$(B) bash $$s;; esac; done

# ---- install: PREFIX (default /usr/local) and DESTDIR honoured -------------
# The binaries look for the BEAM app where `[beam] code_path` says; `make
# install` builds them apart (build-install/) with that default at $(LIBDIR)/ebin.
install:
	@$(MAKE) --no-print-directory all BEAM_DIR_DEFAULT=$(LIBDIR)/ebin B=build-install
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/ebin $(DESTDIR)$(MANDIR)
	install -m 0755 build-install/bin/petri-agent build-install/bin/petri $(DESTDIR)$(BINDIR)/
	install -m 0644 $(EBIN)/*.beam $(EBIN)/petri.app $(DESTDIR)$(LIBDIR)/ebin/
	$(if $(wildcard docs/man/*.1),install -m 0644 $(wildcard docs/man/*.1) $(DESTDIR)$(MANDIR)/)
	install -d $(DESTDIR)$(PREFIX)/share/petri
	install -m 0644 configs/agent.conf configs/coordinator.conf configs/*.service $(DESTDIR)$(PREFIX)/share/petri/
	@echo "petri $(VERSION) installed under $(DESTDIR)$(PREFIX)"
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/petri-agent $(DESTDIR)$(BINDIR)/petri
	rm -rf $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/share/petri
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/,$(notdir $(wildcard docs/man/*.1)))

clean:
	rm -rf build build-asan build-install $(EBIN)

.PHONY: allowlist-doc bins test-deps dialyzer install uninstall images rig-test rig-bench rig-if-docker all c beam deps unit beam-test fuzz-smoke sim-test integration asan format format-check \
	test demo bench clean
