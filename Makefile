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
MARCH ?= native
CORE_PKGS := openblas zlib sqlite3
HOST_PKGS := lua5.4 yaml-0.1
PKGS := $(CORE_PKGS) $(HOST_PKGS)
TEST_PKGS := check
DEB_PKGS := liblua5.4-dev libopenblas-dev zlib1g-dev libyaml-dev check pkg-config \
            libsqlite3-dev chromium

CC ?= gcc
WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
        -Wmissing-prototypes -Wundef -Wwrite-strings -Wformat=2 -Wvla \
        -Wnull-dereference -Wdouble-promotion -Wno-unused-parameter
OPT := -O2 -march=$(MARCH) -fno-math-errno -g
CSTD := -std=gnu11 -D_GNU_SOURCE
ifeq ($(SAN),1)
  BUILD := $(BUILDDIR)-san
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -march=$(MARCH)
  SANLD := -fsanitize=address,undefined
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

INC := -Iruntime -Iruntime/core -Iruntime/schedule $(patsubst %,-I%,$(wildcard modules/*))
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
            $(filter-out $(wildcard modules/*/lua_*.c),$(wildcard modules/*/*.c))
BIND_SRC := $(wildcard modules/*/lua_*.c)
HOST_SRC := $(wildcard runtime/*.c) $(SCHED_CLI)
CORE_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRC))
BIND_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(BIND_SRC))
HOST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(HOST_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
LIB := $(BUILD)/librpcore.a
ifeq ($(SAN),1)
  BIN := $(BUILD)/recpipe
else
  BIN := recpipe
endif

.PHONY: all deps demo test test-unit test-lua test-e2e bench lint format install \
        uninstall clean help check-deps examples
all: check-deps $(BIN)

help:
	@echo "make            build ./recpipe"
	@echo "make deps       install missing Debian packages (apt-get, as root)"
	@echo "make demo       deps + build + example data + pipelines/explore.lua"
	@echo "make test       deps + build + every test layer (SAN=1: sanitizers)"
	@echo "make bench      benchmarks; figures go to tests/bench/RESULTS.md"
	@echo "make lint       clang-format check; module cores must not include lua.h"
	@echo "make install PREFIX=/usr/local, make uninstall, make clean"

# ---- dependencies ---------------------------------------------------------
deps:
	@sh tests/deps.sh $(DEB_PKGS)

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

$(BUILD)/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS_CORE) -O3 -MMD -MP -o $@ $< $(LIB) $(LIBS_CORE)

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(HOST_OBJ:.o=.d) $(UNIT_BIN:=.d)

# ---- example data -----------------------------------------------------------
# regenerated when the generator changes (same options, same bytes)
examples: $(BIN)
	@test ! -f examples/generate.lua || $(MAKE) -s --no-print-directory examples/shop/events.csv.gz
examples/shop/events.csv.gz: examples/generate.lua $(wildcard modules/gen/*.c modules/gen/*.h) \
  | $(BIN)
	./$(BIN) run examples/generate.lua

# ---- demo -----------------------------------------------------------------
demo: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory examples
	./$(BIN) run pipelines/explore.lua examples/shop/events.csv.gz

# ---- tests ----------------------------------------------------------------
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@$(MAKE) --no-print-directory examples
	@BIN=./$(BIN) BUILD=$(BUILD) sh tests/run.sh

test-unit test-lua test-e2e: all $(UNIT_BIN)
	@BIN=./$(BIN) BUILD=$(BUILD) LAYERS=$(subst test-,,$@) sh tests/run.sh

# ---- benchmarks -------------------------------------------------------------
bench: all $(BENCH_BIN)
	@BIN=./$(BIN) BUILD=$(BUILD) sh tests/bench/run.sh

# ---- lint -----------------------------------------------------------------
lint:
	@sh tests/lint.sh

format:
	clang-format -i $(CORE_SRC) $(BIND_SRC) $(HOST_SRC) $(wildcard runtime/*.h runtime/core/*.h runtime/schedule/*.h modules/*/*.h tests/unit/*.c tests/unit/*.h tests/bench/*.c)

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
	rm -rf $(BUILDDIR) $(BUILDDIR)-san recpipe
