# tests/tools/tools.mk: builds the AMQP helper programs; included by the
# top-level Makefile (which is PGXS's).
#
#   make tools        build/tools/amqp_tap   test consumer (integration tests)
#                     build/bench/amqp_ref   reference publisher (benchmark)
#                     build/tools/rediscall_probe   edge/rediscall.c against a
#                                            real Redis (integration tests)
#                     build/tools/slowdns.so   LD_PRELOAD: host names that
#                                            resolve late (integration tests)
#
# Both link tests/tools/amqp_common.c (connecting, closing, broker errors,
# the watchdog, option parsing), built as build/tools/amqp_common.o.
#
# They are built with flags of their own (TOOLS_CPPFLAGS, TOOLS_CFLAGS,
# TOOLS_LIBS), never with CFLAGS/CPPFLAGS/LDFLAGS, which belong to PGXS and
# the extension. This fragment defines no generic target (all, clean,
# install).
#
# Extra flags for a one-off build go in TOOLS_EXTRA_CFLAGS, e.g.
#   make -B tools TOOLS_EXTRA_CFLAGS='-fsanitize=address,undefined'

# Keep the includer's default goal: the first rule below must not become it.
TOOLS_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

TOOLS_CC ?= $(CC)
TOOLS_EXTRA_CFLAGS ?=
# Recursive (=) so TOOLS_EXTRA_CFLAGS given after this include still counts.
TOOLS_CFLAGS = -std=gnu99 -O2 -g -Wall -Wextra -Werror $(TOOLS_EXTRA_CFLAGS)
TOOLS_LIBS = -lrabbitmq -ljansson

TOOLS_TAP := build/tools/amqp_tap
TOOLS_REF := build/bench/amqp_ref
TOOLS_REDIS_PROBE := build/tools/rediscall_probe
TOOLS_SLOWDNS := build/tools/slowdns.so
# What both share (tests/tools/amqp_common.c), compiled once and linked
# into each; bench/amqp_ref.c finds the header through TOOLS_CPPFLAGS.
TOOLS_COMMON_OBJ := build/tools/amqp_common.o
TOOLS_COMMON_HDR := tests/tools/amqp_common.h
TOOLS_CPPFLAGS = -Itests/tools

.PHONY: tools

tools: $(TOOLS_TAP) $(TOOLS_REF) $(TOOLS_REDIS_PROBE) $(TOOLS_SLOWDNS)

# Every object and binary depends on the shared header and on this fragment
# (flags); a binary also on the shared object.
$(TOOLS_COMMON_OBJ): tests/tools/amqp_common.c $(TOOLS_COMMON_HDR) tests/tools/tools.mk
	@mkdir -p $(@D)
	$(TOOLS_CC) $(TOOLS_CPPFLAGS) $(TOOLS_CFLAGS) -c -o $@ $<

$(TOOLS_TAP): tests/tools/amqp_tap.c $(TOOLS_COMMON_OBJ) $(TOOLS_COMMON_HDR) tests/tools/tools.mk
	@mkdir -p $(@D)
	$(TOOLS_CC) $(TOOLS_CPPFLAGS) $(TOOLS_CFLAGS) -o $@ $< $(TOOLS_COMMON_OBJ) $(TOOLS_LIBS)

$(TOOLS_REF): bench/amqp_ref.c $(TOOLS_COMMON_OBJ) $(TOOLS_COMMON_HDR) tests/tools/tools.mk
	@mkdir -p $(@D)
	$(TOOLS_CC) $(TOOLS_CPPFLAGS) $(TOOLS_CFLAGS) -o $@ $< $(TOOLS_COMMON_OBJ) $(TOOLS_LIBS)

# The edge's Redis layer with the edge's own flags (edge/edge.mk), the HTTP
# layer replaced by the probe's stand-in request.
TOOLS_REDIS_PROBE_SRCS := tests/tools/rediscall_probe.c edge/rediscall.c \
	edge/redisconn.c edge/log.c edge/timeutil.c edge/config.c \
	core/ipaddr.c core/tokenbucket.c

$(TOOLS_REDIS_PROBE): $(TOOLS_REDIS_PROBE_SRCS) $(wildcard edge/*.h core/*.h) tests/tools/tools.mk
	@mkdir -p $(@D)
	$(CC_EDGE) $(EDGE_CFLAGS) -Iedge -o $@ $(TOOLS_REDIS_PROBE_SRCS) \
		$(EDGE_PKG_LIBS) $(CORE_LIBS) -pthread

$(TOOLS_SLOWDNS): tests/tools/slowdns.c tests/tools/tools.mk
	@mkdir -p $(@D)
	$(TOOLS_CC) $(TOOLS_CFLAGS) -fPIC -shared -o $@ $< -ldl

.DEFAULT_GOAL := $(TOOLS_SAVED_DEFAULT_GOAL)
