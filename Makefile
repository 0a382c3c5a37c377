# Makefile: builds, installs and tests warden.
#
#   make            the extension (PGXS, warden.so) and edge/warden-edge
#   make install    installs the extension into PostgreSQL 15 (needs root)
#   make test       the one test command: installs missing dependencies,
#                   builds, starts the private stack, runs every suite,
#                   stops the stack; closes with "N passed, N failed"
#   make run        the whole system in the foreground on 127.0.0.1:8080
#   make bench      the benchmarks (bench/run): medians next to references
#                   measured in the same run, and their ratios
#   make fuzz       every fuzz target for FUZZ_SECONDS each
#   make deps       installs missing Debian packages (scripts/deps)
#
# The top level is the PGXS makefile of the extension; the edge, the unit
# tests and the fuzz targets are built by rules of their own with their own
# flags, so PGXS's CFLAGS never leak into them.

all:

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
WARDEN_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" control/warden.control)

CORE_SRCS := $(wildcard core/*.c)
# core/ is plain C on OpenSSL 3 and jansson; both faces link these.
CORE_LIBS := $(shell pkg-config --libs libcrypto jansson 2>/dev/null || echo -lcrypto -ljansson)

# --- the extension (PGXS) ----------------------------------------------------

MODULE_big = warden
# PGXS installs $(EXTENSION).control by its file name: control/warden.control
# lands as warden.control.
EXTENSION = control/warden
DATA = $(wildcard control/warden--*.sql)
OBJS = $(patsubst %.c,%.o,$(wildcard extension/*.c) $(CORE_SRCS))
PG_CPPFLAGS = -Icore -DWARDEN_VERSION='"$(WARDEN_VERSION)"'
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter
SHLIB_LINK = $(CORE_LIBS) -lrabbitmq
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --outputdir=build/regress
EXTRA_CLEAN = build $(EDGE_BIN)

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
all install installcheck:
	@echo "PostgreSQL 15 server headers are missing ($(PG_CONFIG)): run 'make deps' first" >&2
	@exit 1
endif

# PGXS tracks no header dependencies: rebuild every object when one changes.
$(OBJS): $(wildcard core/*.h extension/*.h)

installcheck: | build/regress
build/regress:
	mkdir -p $@

# --- the edge ----------------------------------------------------------------

include edge/edge.mk
all: $(EDGE_BIN)

# --- AMQP tools: the tests' consumer, the benchmark's reference publisher ------

include tests/tools/tools.mk
all: tools

# --- unit tests of core/ (AddressSanitizer and UBSan) -------------------------

CC_TEST ?= clang
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
UNIT_CFLAGS = -std=c11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE $(SANITIZE) \
	-Icore -Itests/unit
UNIT_CORE_TESTS := $(patsubst tests/unit/%.c,build/unit/%,\
	$(filter-out tests/unit/test_edge_%.c,$(wildcard tests/unit/test_*.c)))

build/unit/%: tests/unit/%.c $(CORE_SRCS) $(wildcard core/*.h) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC_TEST) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) $(CORE_LIBS)

.PHONY: unit
unit: $(UNIT_CORE_TESTS) edge-unit

# --- fuzz targets (libFuzzer) ------------------------------------------------

FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Icore
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

build/fuzz/%: tests/fuzz/%.c $(CORE_SRCS) $(wildcard core/*.h)
	@mkdir -p $(@D)
	$(CC_TEST) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRCS) $(CORE_LIBS)

.PHONY: fuzz-build fuzz
fuzz-build: $(FUZZ_TARGETS)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz $(FUZZ_TARGETS)

# --- the commands of README.md -----------------------------------------------

.PHONY: test run bench deps
test:
	PG_CONFIG=$(PG_CONFIG) scripts/test
bench:
	PG_CONFIG=$(PG_CONFIG) bench/run
run:
	PG_CONFIG=$(PG_CONFIG) scripts/run
deps:
	scripts/deps
