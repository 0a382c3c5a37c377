# tests/tools/tools.mk: builds the AMQP helper programs; included by the
# top-level Makefile (which is PGXS's).
#
#   make tools        build/tools/amqp_tap   test consumer (integration tests)
#                     build/bench/amqp_ref   reference publisher (benchmark)
#
# They are built with flags of their own (TOOLS_CFLAGS, TOOLS_LIBS), never
# with CFLAGS/CPPFLAGS/LDFLAGS, which belong to PGXS and the extension. This
# fragment defines no generic target (all, clean, install).
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

.PHONY: tools

tools: $(TOOLS_TAP) $(TOOLS_REF)

# One source file each: the binary depends on it and on this fragment.
$(TOOLS_TAP): tests/tools/amqp_tap.c tests/tools/tools.mk
	@mkdir -p $(@D)
	$(TOOLS_CC) $(TOOLS_CFLAGS) -o $@ $< $(TOOLS_LIBS)

$(TOOLS_REF): bench/amqp_ref.c tests/tools/tools.mk
	@mkdir -p $(@D)
	$(TOOLS_CC) $(TOOLS_CFLAGS) -o $@ $< $(TOOLS_LIBS)

.DEFAULT_GOAL := $(TOOLS_SAVED_DEFAULT_GOAL)
