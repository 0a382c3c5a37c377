# tests/deploy/npm_deps.bash: sourced by the deployment checks that run
# tools from npm (tests/deploy/package.json, versions pinned exactly in
# package-lock.json). Installs them into tests/deploy/node_modules with
# `npm ci` when missing or when the lock file changed, from npm's cache
# first (--offline), from the registry only when the cache lacks them.
# Not a test itself: scripts/test runs only tests/deploy/*.sh.

# deploy_npm_install: 0 when node_modules matches package-lock.json.
deploy_npm_install() {
  local dir=$WARDEN_ROOT/tests/deploy stamp want
  stamp=$dir/node_modules/.warden-lock-sha256
  command -v node >/dev/null && command -v npm >/dev/null || {
    echo "deploy: node and npm are needed (Debian: nodejs)" >&2
    return 1
  }
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  (
    cd "$dir" &&
      { nice -n 19 npm ci --offline --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
        nice -n 19 npm ci --no-audit --no-fund --loglevel=error >/dev/null; }
  ) || return 1
  echo "$want" >"$stamp"
}
