#!/usr/bin/env bash
# tests/check_symbols.sh: warden.so must import no library symbol that the
# postgres executable also defines.
#
# The dynamic linker binds a loaded library's references to the executable's
# definitions first, so such a call silently runs the server's function
# instead of the library's (jansson's json_object() against the SQL
# function json_object() crashed a backend). See core/json_safe.h.
set -euo pipefail
lib=${1:-warden.so}
postgres=${2:-$(${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config} --bindir)/postgres}

nm -D --defined-only "$postgres" | awk '{print $3}' | sort -u >"${TMPDIR:-/tmp}/pg-syms.$$"
clashes=$(nm -D --undefined-only "$lib" | awk '$2 ~ /@/ { split($2, s, "@"); print s[1] }' |
  sort -u | comm -12 - "${TMPDIR:-/tmp}/pg-syms.$$")
rm -f "${TMPDIR:-/tmp}/pg-syms.$$"
if [ -n "$clashes" ]; then
  echo "not ok - $lib imports library symbols that postgres defines:"
  printf '%s\n' "$clashes" | sed 's/^/#   /'
  echo "suite check_symbols: 0 passed, 1 failed"
  exit 1
fi
echo "ok - $lib imports no symbol that postgres defines"
echo "suite check_symbols: 1 passed, 0 failed"
