# tests/deploy/npm.bash: sourced by the deployment checks that run npm
# packages (tests/deploy/package.json: exact versions, locked by
# package-lock.json; node_modules/ is not committed).
#
# deploy_npm installs them into tests/deploy/node_modules, from npm's cache
# when it can (npm ci --offline) and from the registry otherwise, once per
# version of the lock file, and sets DEPLOY_BIN to node_modules/.bin. The
# checks themselves never reach the network. Returns non-zero, after
# printing why, when npm is missing or the install fails.

deploy_npm() {
  local dir=$WARDEN_ROOT/tests/deploy
  local stamp=$dir/node_modules/.warden-lock.sha256
  local log=$WARDEN_TEST_TMP/npm-ci.log
  local sum
  DEPLOY_BIN=$dir/node_modules/.bin
  if ! command -v npm >/dev/null; then
    echo "# npm is missing: scripts/deps installs it" >&2
    return 1
  fi
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
    return 0
  fi
  if ! (cd "$dir" && { npm ci --offline --no-audit --no-fund >"$log" 2>&1 ||
    npm ci --no-audit --no-fund >"$log" 2>&1; }); then
    echo "# npm ci in tests/deploy failed:" >&2
    tail -n 20 "$log" | sed 's/^/#   /' >&2
    return 1
  fi
  echo "$sum" >"$stamp"
}
