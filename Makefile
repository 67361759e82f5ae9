# recpipe build.  `make help` lists the targets.
#
# Layout: every modules/<m>/*.c except lua_<m>.c is a plain-C core and goes
# into build/librpcore.a together with runtime/core/*.c; the binding files
# (modules/<m>/lua_*.c) and runtime/*.c make the `recpipe` binary.  Check
# tests (tests/unit/test_*.c) link librpcore.a only: they need no Lua.

PREFIX ?= /usr/local
BUILDDIR ?= build
BUILD := $(BUILDDIR)
SAN ?= 0
TSAN ?= 0
MARCH ?= native
CORE_PKGS := openblas zlib sqlite3 ompi-c
HOST_PKGS := lua5.4 yaml-0.1 libmicrohttpd libcjson
PKGS := $(CORE_PKGS) $(HOST_PKGS)
TEST_PKGS := check
DEB_PKGS := liblua5.4-dev libopenblas-dev zlib1g-dev libyaml-dev check pkg-config \
            libsqlite3-dev libmicrohttpd-dev libcjson-dev openmpi-bin libopenmpi-dev chromium \
            tzdata
# clang with libFuzzer, the sanitizer runtimes and LLVM's OpenMP (make fuzz,
# make test TSAN=1), clang-format (make lint)
DEV_PKGS := clang libclang-rt-dev libomp-dev clang-format
# what the benchmarks run beside recpipe: wrk (HTTP load), hyperfine, the
# pandas/numpy/FastAPI references and the 10M-event generator (../shared/tools)
BENCH_PKGS := wrk hyperfine python3-numpy python3-pandas python3-fastapi python3-uvicorn

CC ?= gcc
WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
        -Wmissing-prototypes -Wundef -Wwrite-strings -Wformat=2 -Wvla \
        -Wnull-dereference -Wdouble-promotion -Wno-unused-parameter
# Floating point rounds the same in every build: GCC's default in GNU C
# mode, -ffp-contract=fast, fuses a*b+c into one FMA wherever the optimiser
# sees fit, which differs between -O1 (SAN=1) and -O2; off keeps every
# product and sum rounded as written.  The AVX-512 kernels call FMA
# intrinsics explicitly, which this flag does not touch.  Every build (this
# one, SAN=1, benchmarks, fuzzing) must carry $(FP).
FP := -ffp-contract=off
OPT := -O2 -march=$(MARCH) -fno-math-errno $(FP) -g
CSTD := -std=gnu11 -D_GNU_SOURCE
# Variants, each in its own build directory with its own binary:
#   SAN=1       ASan + UBSan (gcc)                        build-san/recpipe
#   TSAN=1      ThreadSanitizer (clang, LLVM's OpenMP)    build-tsan/recpipe
#   FUZZ=1      libFuzzer coverage + ASan + UBSan (clang) build-fuzz/ (make fuzz)
#   MARCH=x     another -march (x86-64: the portable kernels): BUILD gets -x
ifeq ($(FUZZ),1)
  BUILD := $(BUILDDIR)-fuzz
  CC := clang
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
         -fno-sanitize-recover=undefined -march=$(MARCH) $(FP)
  SANLD := -fsanitize=address,undefined
else ifeq ($(TSAN),1)
  # LLVM's OpenMP with its Archer tool linked in: Archer tells TSan about
  # OpenMP's barriers and locks, which otherwise show as false races
  BUILD := $(BUILDDIR)-tsan
  CC := clang
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=thread -march=$(MARCH) $(FP)
  SANLD := -fsanitize=thread $(abspath $(shell clang -print-resource-dir 2>/dev/null)/../../libarcher_static.a)
else ifeq ($(SAN),1)
  BUILD := $(BUILDDIR)-san
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -march=$(MARCH) $(FP)
  SANLD := -fsanitize=address,undefined
endif
ifneq ($(MARCH),native)
  BUILD := $(BUILD)-$(MARCH)
endif
# WITHOUT="m ...": leave modules/m out of the build (its core, binding and
# include path); the binary then has no rp.m (host.c: weak symbols).  Own
# build directory, e.g. build-without-monitor/recpipe.
WITHOUT ?=
MODULES := $(filter-out $(addprefix modules/,$(WITHOUT)),$(wildcard modules/*))
ifneq ($(strip $(WITHOUT)),)
  BUILD := $(BUILD)-without-$(subst $(eval) ,-,$(strip $(WITHOUT)))
endif
# clang's -Wdouble-promotion also flags the lossless float -> double of an
# assignment or a prototyped argument (lua_pushnumber(L, f)); gcc's, which
# the rule is written for, flags promotions in arithmetic and varargs only.
# -Wpass-failed: an `omp simd` loop left scalar in an -O1 sanitizer build
# is an optimizer remark, not a defect.
ifneq ($(filter clang%,$(notdir $(CC))),)
  WARN += -Wno-double-promotion -Wno-pass-failed
endif
# the fault-injection switch (rp_mem_fail_after) is compiled in every build:
# it costs one atomic load per allocation and lets `make test` prove that
# allocation failure is an error, not a crash, on the binary users run.

CORE_CFLAGS = $(shell pkg-config --cflags $(CORE_PKGS) 2>/dev/null)
CORE_LIBS = $(shell pkg-config --libs $(CORE_PKGS) 2>/dev/null)
HOST_CFLAGS = $(shell pkg-config --cflags $(HOST_PKGS) 2>/dev/null)
HOST_LIBS = $(shell pkg-config --libs $(HOST_PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

INC := -Iruntime -Iruntime/core -Iruntime/schedule $(patsubst %,-I%,$(MODULES))
# core objects and unit tests see no Lua headers: a core file that includes
# lua.h does not compile (make lint says so too)
CFLAGS_CORE = $(CSTD) $(OPT) $(WARN) -fopenmp $(INC) $(CORE_CFLAGS) $(CFLAGS)
CFLAGS_HOST = $(CFLAGS_CORE) $(HOST_CFLAGS)
LIBS_CORE = -fopenmp $(SANLD) $(CORE_LIBS) -lm -lpthread $(LDFLAGS)
LIBS_HOST = $(LIBS_CORE) $(HOST_LIBS)

# runtime/schedule: plain-C parts in the core library (unit-tested), the
# command (schedule.c, which reads YAML through the host) in the binary
SCHED_CLI := runtime/schedule/schedule.c
CORE_SRC := $(wildcard runtime/core/*.c) \
            $(filter-out $(SCHED_CLI),$(wildcard runtime/schedule/*.c)) \
            $(filter-out $(wildcard modules/*/lua_*.c),$(wildcard $(addsuffix /*.c,$(MODULES))))
BIND_SRC := $(wildcard $(addsuffix /lua_*.c,$(MODULES)))
HOST_SRC := $(wildcard runtime/*.c runtime/serve/*.c) $(SCHED_CLI)
CORE_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRC))
BIND_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(BIND_SRC))
HOST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(HOST_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC := $(wildcard tests/e2e/*.c)
TOOL_BIN := $(patsubst tests/e2e/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
LIB := $(BUILD)/librpcore.a
ifeq ($(BUILD),$(BUILDDIR))
  BIN := recpipe
else
  BIN := $(BUILD)/recpipe
endif
# the variables that select this build, for tests that run make themselves
VARIANT := SAN=$(SAN) TSAN=$(TSAN) MARCH=$(MARCH) BUILDDIR=$(BUILDDIR)
# fuzz harnesses: tests/fuzz/fuzz_<name>.c; replay drivers in every build,
# libFuzzer binaries in the FUZZ=1 build; the YAML harness needs the host's
# config.o (and Lua, libyaml), the request harness the server's request.o and
# jbuf.o (and cJSON)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
REPLAY_BIN := $(patsubst %,$(BUILD)/fuzz/replay_%,$(FUZZ_NAMES))
FUZZ_BIN := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_HOST := yaml request
FUZZ_SECONDS ?= 60

.PHONY: all deps deps-build deps-dev deps-bench demo test test-unit test-lua test-e2e test-fuzz test-build bench \
        bench-soak lint format install uninstall clean help check-deps examples fuzz fuzz-build
all: check-deps $(BIN)

help:
	@echo "make            build ./recpipe"
	@echo "make deps       install missing Debian packages (apt-get, as root)"
	@echo "make demo       deps + build + example data + explore, train and serve the shop"
	@echo "make test       deps + build + every test layer (SAN=1: ASan+UBSan, TSAN=1:"
	@echo "                ThreadSanitizer, MARCH=x86-64: portable kernels; own build dirs)"
	@echo "make WITHOUT=m  build without modules/m (rp.m absent): build-without-m/recpipe"
	@echo "make fuzz       libFuzzer harnesses, FUZZ_SECONDS (default 60) each"
	@echo "make bench      benchmarks; figures go to tests/bench/RESULTS.md"
	@echo "make bench-soak the server's 10-minute soak"
	@echo "make lint       clang-format check; module cores must not include lua.h"
	@echo "make install PREFIX=/usr/local, make uninstall, make clean"

# ---- dependencies ---------------------------------------------------------
# `make deps` installs everything; builds and tests ask only for what they use
deps:
	@sh tests/deps.sh $(DEB_PKGS) $(DEV_PKGS) $(BENCH_PKGS)
deps-build:
	@sh tests/deps.sh $(DEB_PKGS) $(if $(filter 1,$(TSAN) $(FUZZ)),$(DEV_PKGS))
deps-dev:
	@sh tests/deps.sh $(DEV_PKGS)
deps-bench:
	@sh tests/deps.sh $(BENCH_PKGS)

check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing libraries: run 'make deps'"; \
	  sh tests/deps.sh --print $(DEB_PKGS); exit 1; }

# ---- build ----------------------------------------------------------------
Q := $(if $(V),,@)
$(CORE_OBJ): $(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_CORE) -MMD -MP -c $< -o $@

$(BIND_OBJ) $(HOST_OBJ): $(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC $<")
	$(Q)$(CC) $(CFLAGS_HOST) -MMD -MP -c $< -o $@

$(LIB): $(CORE_OBJ)
	@rm -f $@
	@echo "  AR $@"
	$(Q)ar rcs $@ $^

$(BIN): $(HOST_OBJ) $(BIND_OBJ) $(LIB)
	@echo "  LD $@"
	$(Q)$(CC) $(OPT) -o $@ $(HOST_OBJ) $(BIND_OBJ) $(LIB) $(LIBS_HOST)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) tests/unit/rptest.h
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS_CORE) $(CHECK_CFLAGS) -Itests/unit -MMD -MP -o $@ $< $(LIB) \
	  $(CHECK_LIBS) $(LIBS_CORE)

# helpers of the end-to-end tests (an HTTP client for the server tests)
$(BUILD)/tools/%: tests/e2e/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CSTD) $(OPT) $(WARN) -o $@ $< -lpthread $(SANLD)

$(BUILD)/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS_CORE) -O3 -MMD -MP -o $@ $< $(LIB) $(LIBS_CORE)

# fuzz harnesses: replay drivers (any compiler) and libFuzzer binaries (FUZZ=1)
$(BUILD)/fuzz/replay_yaml $(BUILD)/fuzz/fuzz_yaml: $(BUILD)/runtime/config.o
$(BUILD)/fuzz/replay_yaml $(BUILD)/fuzz/fuzz_yaml: FUZZ_LINK = $(BUILD)/runtime/config.o $(HOST_LIBS)
SERVE_PURE := $(BUILD)/runtime/serve/request.o $(BUILD)/runtime/serve/jbuf.o
$(BUILD)/fuzz/replay_request $(BUILD)/fuzz/fuzz_request: $(SERVE_PURE)
$(BUILD)/fuzz/replay_request $(BUILD)/fuzz/fuzz_request: FUZZ_LINK = $(SERVE_PURE) $(HOST_LIBS)
$(REPLAY_BIN): $(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS_HOST) -Itests/fuzz -o $@ $< tests/fuzz/replay.c $(FUZZ_LINK) $(LIB) \
	  $(LIBS_CORE)
$(FUZZ_BIN): $(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS_HOST) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ_LINK) $(LIB) $(LIBS_CORE)

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(HOST_OBJ:.o=.d) $(UNIT_BIN:=.d)

# ---- example data -----------------------------------------------------------
# regenerated when the generator changes (same options, same bytes)
examples: $(BIN)
	@test ! -f examples/generate.lua || $(MAKE) -s --no-print-directory examples/shop/events.csv.gz
examples/shop/events.csv.gz: examples/generate.lua $(wildcard modules/gen/*.c modules/gen/*.h) \
  | $(BIN)
	./$(BIN) run examples/generate.lua

# ---- demo -----------------------------------------------------------------
demo: deps-build
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory examples
	./$(BIN) run pipelines/explore.lua examples/shop/events.csv.gz
	./$(BIN) run examples/second_pipeline.lua
	@sh examples/serve_demo.sh ./$(BIN)

# ---- tests ----------------------------------------------------------------
# TSAN=1: the unit, Lua and fuzz-replay layers (every threaded core).  Not
# e2e: TSan delivers a signal only when the thread next enters its runtime,
# so a pure Lua loop never sees Ctrl-C and cli.sh's interrupt check hangs.
TEST_LAYERS := unit lua $(if $(filter 1,$(TSAN)),,e2e) fuzz
RUN_TESTS = BIN=./$(BIN) BUILD=$(BUILD) RP_MAKEVARS="$(VARIANT)" TSAN=$(TSAN) sh tests/run.sh
test: deps-build
	@$(MAKE) --no-print-directory test-build
	@$(MAKE) --no-print-directory examples
	@LAYERS="$(TEST_LAYERS)" $(RUN_TESTS)

test-unit test-lua test-e2e test-fuzz: test-build
	@$(MAKE) --no-print-directory examples
	@LAYERS=$(subst test-,,$@) $(RUN_TESTS)

# the e2e layer's helper programs (an HTTP client) only where e2e runs
test-build: all $(UNIT_BIN) $(REPLAY_BIN) $(if $(filter 1,$(TSAN)),,$(TOOL_BIN))
	@:

# ---- fuzzing ------------------------------------------------------------------
# libFuzzer + ASan + UBSan on the cores, built by clang in build-fuzz/; each
# harness runs FUZZ_SECONDS on a scratch corpus seeded from tests/fuzz/corpus
fuzz: deps-dev
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD=$(BUILDDIR)-fuzz$(if $(filter-out native,$(MARCH)),-$(MARCH)) \
	  sh tests/fuzz/run.sh $(FUZZ_NAMES)
fuzz-build: $(FUZZ_BIN)

# ---- benchmarks -------------------------------------------------------------
bench: deps-bench all $(BENCH_BIN) $(TOOL_BIN)
	@BIN=./$(BIN) BUILD=$(BUILD) sh tests/bench/run.sh

# the server's 10-minute soak (mixed valid and malformed requests, RSS over time)
bench-soak: deps-bench all
	@BIN=./$(BIN) sh tests/bench/bench_serve.sh soak

# ---- lint -----------------------------------------------------------------
lint: deps-dev
	@sh tests/lint.sh

format:
	clang-format -i $(CORE_SRC) $(BIND_SRC) $(HOST_SRC) $(wildcard runtime/*.h runtime/core/*.h runtime/serve/*.h runtime/schedule/*.h modules/*/*.h tests/unit/*.c tests/unit/*.h tests/bench/*.c tests/e2e/*.c tests/fuzz/*.c tests/fuzz/*.h)

# ---- install ----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/recpipe/lua \
	  $(DESTDIR)$(PREFIX)/share/recpipe/pipelines
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/recpipe
	install -m 644 modules/lua/*.lua $(DESTDIR)$(PREFIX)/share/recpipe/lua/
	$(if $(wildcard pipelines/*.lua),install -m 644 $(wildcard pipelines/*.lua) \
	  $(DESTDIR)$(PREFIX)/share/recpipe/pipelines/)

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/recpipe $(DESTDIR)$(PREFIX)/share/recpipe

clean:
	rm -rf $(BUILDDIR) $(BUILDDIR)-* recpipe
