# tests/deploy/checks.bash: the helpers the deployment checks share
# (sourced after tests/lib.sh; not a test itself: scripts/test runs only
# tests/deploy/*.sh). Every validator is also shown a broken copy and must
# refuse it, for the right reason, so one that accepts everything is caught.

# rejects NAME REGEX CMD...: passes when CMD fails and says why (its output
# matches REGEX), so a validator that fails for an unrelated reason, or
# accepts a broken file, is caught.
rejects() {
  local name=$1 rx=$2 out
  shift 2
  if out=$("$@" 2>&1); then
    t_fail "$name" "accepted: $*"
  elif printf '%s' "$out" | grep -Eq -- "$rx"; then
    t_pass "$name"
  else
    t_fail "$name" "refused, but not for the expected reason ($rx):
$out"
  fi
}

# fails NAME CMD...: passes when CMD exits non-zero (for commands that fail
# without saying why, like a health check)
fails() {
  local name=$1
  shift
  if "$@" >/dev/null 2>&1; then
    t_fail "$name" "succeeded: $*"
  else
    t_pass "$name"
  fi
}

# broken SRC DST SED-EXPRESSION: a copy of SRC with one change, which must
# really have changed something
broken() {
  sed -e "$3" "$1" >"$2"
  if cmp -s "$1" "$2"; then
    echo "# the broken copy $2 equals $1: the sed expression matched nothing" >&2
    return 1
  fi
}
