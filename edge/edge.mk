# edge/edge.mk: builds edge/warden-edge and its unit test; included by the
# top-level Makefile (which is PGXS's).
#
# The edge is built with flags of its own (EDGE_CFLAGS, EDGE_LDFLAGS,
# EDGE_LIBS) and never with CFLAGS/CPPFLAGS/LDFLAGS, which belong to PGXS and
# the extension. This fragment defines no generic target (all, clean,
# install); the top level wires `edge` and `edge-clean` into those.
#
#   make edge          edge/warden-edge
#   make edge-unit     build/unit/test_edge_config (ASan + UBSan)
#   make edge-clean    removes build/edge, the binary and the unit test
#
# core/ objects are compiled again with the edge's flags into build/edge/core/
# (PGXS compiles its own copies for the extension), so the two faces share
# source, not objects.

# Keep the includer's default goal: the first rule below must not become it.
EDGE_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

WARDEN_VERSION ?= 0.1.0
CC_EDGE ?= gcc
CC_EDGE_UNIT ?= clang
CORE_SRCS ?= $(wildcard core/*.c)
CORE_LIBS ?= $(shell pkg-config --libs libcrypto jansson 2>/dev/null)

EDGE_PKGS := libmicrohttpd gnutls libpq hiredis jansson
EDGE_PKG_CFLAGS := $(shell pkg-config --cflags $(EDGE_PKGS))
EDGE_PKG_LIBS := $(shell pkg-config --libs $(EDGE_PKGS))
# The edge allocates with jemalloc. Each request takes ~35 small blocks
# from libmicrohttpd (three per response header), libpq (a result per
# statement) and the edge itself, and a pipeline's answers free a burst of
# same-sized blocks at once: more than glibc's per-thread cache holds (7 of
# a size), so most went through the arena's locked slow path and each
# libpq result block (2 KiB) made it consolidate. Measured on the rpc bench:
# the edge's CPU per call 13.9 -> 12.5 us, requests/s +5%. Only the
# production binary links it: the sanitizers bring allocators of their own.
EDGE_MALLOC_LIBS := $(shell pkg-config --libs jemalloc 2>/dev/null)

EDGE_BIN := edge/warden-edge
EDGE_SRCS := $(wildcard edge/*.c)
EDGE_OBJS := $(patsubst edge/%.c,build/edge/%.o,$(EDGE_SRCS))
EDGE_CORE_OBJS := $(patsubst core/%.c,build/edge/core/%.o,$(CORE_SRCS))
EDGE_DEPS := $(EDGE_OBJS:.o=.d) $(EDGE_CORE_OBJS:.o=.d)

# Recursive (=) so a WARDEN_VERSION set after this include still counts.
EDGE_CFLAGS = -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -fno-omit-frame-pointer \
	-Icore $(EDGE_PKG_CFLAGS) -DWARDEN_VERSION=\"$(WARDEN_VERSION)\"
EDGE_LDFLAGS = -pie -Wl,-z,relro,-z,now
EDGE_LIBS = $(EDGE_MALLOC_LIBS) $(EDGE_PKG_LIBS) $(if $(EDGE_CORE_OBJS),$(CORE_LIBS)) -pthread

EDGE_UNIT_BIN := build/unit/test_edge_config build/unit/test_edge_lcache \
	build/unit/test_edge_hmap build/unit/test_edge_verifier build/unit/test_edge_textfmt
EDGE_UNIT_CFLAGS = -std=c11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -Itests/unit -Iedge -Icore

.PHONY: edge edge-clean edge-unit

edge: $(EDGE_BIN)

$(EDGE_BIN): $(EDGE_OBJS) $(EDGE_CORE_OBJS)
	$(if $(EDGE_MALLOC_LIBS),,$(error jemalloc not found by pkg-config (libjemalloc-dev; make deps)))
	$(CC_EDGE) $(EDGE_CFLAGS) $(EDGE_LDFLAGS) -o $@ $^ $(EDGE_LIBS)

build/edge/%.o: edge/%.c
	@mkdir -p $(@D)
	$(CC_EDGE) $(EDGE_CFLAGS) -MMD -MP -c -o $@ $<

build/edge/core/%.o: core/%.c
	@mkdir -p $(@D)
	$(CC_EDGE) $(EDGE_CFLAGS) -MMD -MP -c -o $@ $<

# Pure C parts of the edge, tested alone: each test links its module only
# (and the core/ parsers it calls).
EDGE_UNIT_CORE := core/ipaddr.c core/tokenbucket.c
edge-unit: $(EDGE_UNIT_BIN)

build/unit/test_edge_config: tests/unit/test_edge_config.c edge/config.c edge/config.h \
		$(EDGE_UNIT_CORE) $(EDGE_UNIT_CORE:.c=.h) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC_EDGE_UNIT) $(EDGE_UNIT_CFLAGS) -o $@ tests/unit/test_edge_config.c \
		edge/config.c $(EDGE_UNIT_CORE)

build/unit/test_edge_lcache: tests/unit/test_edge_lcache.c edge/lcache.c edge/lcache.h \
		core/siphash.c core/siphash.h tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC_EDGE_UNIT) $(EDGE_UNIT_CFLAGS) -pthread -o $@ tests/unit/test_edge_lcache.c \
		edge/lcache.c core/siphash.c

build/unit/test_edge_verifier: tests/unit/test_edge_verifier.c edge/verifier.c edge/verifier.h edge/digest.c \
		edge/lcache.c edge/hmap.c $(CORE_SRCS) $(wildcard core/*.h) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC_EDGE_UNIT) $(EDGE_UNIT_CFLAGS) -pthread -o $@ tests/unit/test_edge_verifier.c \
		edge/verifier.c edge/digest.c edge/lcache.c edge/hmap.c $(CORE_SRCS) $(CORE_LIBS)

build/unit/test_edge_hmap: tests/unit/test_edge_hmap.c edge/hmap.c edge/hmap.h \
		core/siphash.c core/siphash.h tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC_EDGE_UNIT) $(EDGE_UNIT_CFLAGS) -o $@ tests/unit/test_edge_hmap.c \
		edge/hmap.c core/siphash.c

build/unit/test_edge_textfmt: tests/unit/test_edge_textfmt.c edge/textfmt.h tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC_EDGE_UNIT) $(EDGE_UNIT_CFLAGS) -o $@ tests/unit/test_edge_textfmt.c

# The edge built with AddressSanitizer and UBSan (clang), for the
# integration tests' sanitized pass (scripts/test): the same sources, any
# memory error or undefined behaviour ends the process with a report.
EDGE_SANITIZED_BIN := build/edge-sanitized/warden-edge
EDGE_SANITIZED_CFLAGS = -std=c11 -O1 -g -Wall -Wextra -Werror \
	-Wno-missing-field-initializers -D_GNU_SOURCE -pthread \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-Icore -Iedge $(EDGE_PKG_CFLAGS) -DWARDEN_VERSION=\"$(WARDEN_VERSION)\"

.PHONY: edge-sanitized
edge-sanitized: $(EDGE_SANITIZED_BIN)

$(EDGE_SANITIZED_BIN): $(EDGE_SRCS) $(wildcard edge/*.h) $(CORE_SRCS) $(wildcard core/*.h)
	@mkdir -p $(@D)
	$(CC_EDGE_UNIT) $(EDGE_SANITIZED_CFLAGS) -o $@ $(EDGE_SRCS) $(CORE_SRCS) \
		$(EDGE_PKG_LIBS) $(CORE_LIBS) -pthread

edge-clean:
	rm -rf build/edge
	rm -f $(EDGE_BIN) $(EDGE_UNIT_BIN) $(EDGE_SANITIZED_BIN)

-include $(EDGE_DEPS)

.DEFAULT_GOAL := $(EDGE_SAVED_DEFAULT_GOAL)
