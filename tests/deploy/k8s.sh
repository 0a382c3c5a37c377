#!/usr/bin/env bash
# tests/deploy/k8s.sh: k8s/ checked offline, without a cluster.
#
# Each kustomization (base, overlays/staging, overlays/production, cluster)
# is assembled by tests/deploy/kustomize.py (kustomize's features that k8s/
# uses, compared with `kubectl kustomize` where kubectl is installed), then:
#   - every object validated against Kubernetes 1.33.0's API schemas, the
#     Prometheus Operator's, and tests/deploy/schemas/ for CloudNativePG,
#     its Barman Cloud plugin and RabbitMQ (validate.js), unknown fields
#     refused as the API server refuses them;
#   - warden's facts asserted (k8s_policy.py): HPA 2..20 on CPU and memory,
#     probes, non-root read-only pods, zones, PDB, the TLS 1.3 policy,
#     every WARDEN_* variable real and in range, the network flows allowed
#     and refused, backups, alerts on metrics that exist;
#   - every value of the overlays' environment.yaml reaching its fields;
#   - the alerts through `promtool check rules` and `promtool test rules`.
# Every checker is also shown a broken copy and must refuse it.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/deploy/npm.bash"

PY=/usr/bin/python3
D=$WARDEN_ROOT/tests/deploy
TMP=$WARDEN_TEST_TMP/k8s
rm -rf "$TMP"
mkdir -p "$TMP"

t_check "python3 with PyYAML" "$PY" -c 'import yaml'
t_check "promtool" promtool --version
if ! t_check "npm tools installed (tests/deploy/package-lock.json)" deploy_npm; then
  t_done
  exit 1
fi

TARGETS="base overlays/staging overlays/production cluster"
declare -A NS=([base]="" [overlays/staging]=warden-staging
  [overlays/production]=warden [cluster]=@cluster)

# out NAME: where the assembled objects of a target go
out() { echo "$TMP/$(echo "$1" | tr / _).json"; }

# policy LABEL OBJECTS NAMESPACE: one row per assertion of k8s_policy.py
policy() {
  local label=$1 line
  while IFS= read -r line; do
    case $line in
      PASS\ *) t_pass "$label: ${line#PASS }" ;;
      FAIL\ *) t_fail "$label: ${line#FAIL }" ;;
      *) t_fail "$label: unexpected output" "$line" ;;
    esac
  done < <("$PY" "$D/k8s_policy.py" "$WARDEN_ROOT" "$2" "$3" 2>&1)
}

# --- assembly -------------------------------------------------------------------
for t in $TARGETS; do
  t_check "k8s/$t assembles" sh -c "'$PY' '$D/kustomize.py' '$WARDEN_ROOT/k8s/$t' >'$(out "$t")'"
done

# The same result as kustomize itself, where kubectl carries it.
if command -v kubectl >/dev/null && kubectl kustomize "$WARDEN_ROOT/k8s/base" >/dev/null 2>&1; then
  for t in $TARGETS; do
    kubectl kustomize "$WARDEN_ROOT/k8s/$t" >"$TMP/kubectl.yaml" 2>&1
    diff=$("$PY" - "$(out "$t")" "$TMP/kubectl.yaml" <<'EOF'
import json, sys, yaml
def key(o):
    return (o["apiVersion"], o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
mine = {key(o): json.dumps(o, sort_keys=True) for o in json.load(open(sys.argv[1]))}
ref = {key(o): json.dumps(o, sort_keys=True)
       for o in yaml.safe_load_all(open(sys.argv[2])) if o}
for k in sorted(set(mine) | set(ref)):
    if mine.get(k) != ref.get(k):
        print("differs:", "/".join(x for x in k if x))
EOF
    )
    t_eq "k8s/$t: the same objects as kubectl kustomize builds" "" "$diff"
  done
else
  t_pass "kubectl kustomize comparison # SKIP kubectl not installed"
fi

# --- schemas ----------------------------------------------------------------------
for t in $TARGETS; do
  t_check "k8s/$t: every object valid against its pinned schema" \
    node "$D/validate.js" "$(out "$t")"
done

# --- warden's facts ------------------------------------------------------------------
for t in $TARGETS; do
  policy "k8s/$t" "$(out "$t")" "${NS[$t]}"
done

# --- environment values reach their fields ------------------------------------------
# A copy of k8s/ whose environment.yaml values are markers: each marker must
# land where it belongs, and no placeholder account id may survive, so
# every environment-specific field is fed from environment.yaml.
cp -r "$WARDEN_ROOT/k8s" "$TMP/k8s-env"
for env in staging production; do
  "$PY" - "$TMP/k8s-env/overlays/$env/environment.yaml" <<'EOF'
import sys, yaml
p = sys.argv[1]
d = yaml.safe_load(open(p))
d["data"] = {
    "host": "marker-host.test",
    "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/marker-cert",
    "edge_role_arn": "arn:aws:iam::123456789012:role/marker-edge",
    "cnpg_backup_role_arn": "arn:aws:iam::123456789012:role/marker-backup",
    "pg_backups_bucket": "marker-bucket",
    "backup_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/marker-key",
}
yaml.safe_dump(d, open(p, "w"))
EOF
  "$PY" "$D/kustomize.py" "$TMP/k8s-env/overlays/$env" >"$TMP/env-$env.json"
  res=$("$PY" - "$TMP/env-$env.json" <<'EOF'
import json, sys
objs = json.load(open(sys.argv[1]))
get = lambda kind, name: next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)
ing = get("Ingress", "warden-edge")
store = get("ObjectStore", "warden-pg-backups")["spec"]["configuration"]
got = [
    ing["spec"]["rules"][0]["host"] == "marker-host.test",
    ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/certificate-arn"].endswith("marker-cert"),
    get("ServiceAccount", "warden-edge")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("marker-edge"),
    get("Cluster", "warden-pg")["spec"]["serviceAccountTemplate"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("marker-backup"),
    store["destinationPath"].startswith("s3://marker-bucket/"),
    store["wal"]["archiveAdditionalCommandArgs"] == ["--sse-kms-key-id=arn:aws:kms:us-east-1:123456789012:key/marker-key"],
    store["data"]["additionalCommandArgs"] == ["--sse-kms-key-id=arn:aws:kms:us-east-1:123456789012:key/marker-key"],
    "000000000000" not in json.dumps(objs),
    "example.com" not in json.dumps(objs),
]
print(" ".join("1" if g else "0" for g in got))
EOF
  )
  t_eq "overlays/$env: host, certificate, roles, bucket and key all from environment.yaml, no placeholder left" \
    "1 1 1 1 1 1 1 1 1" "$res"
done
"$PY" - "$TMP/k8s-env/cluster/cluster.yaml" <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["data"] = {"ebs_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/marker-ebs"}
yaml.safe_dump(d, open(sys.argv[1], "w"))
EOF
"$PY" "$D/kustomize.py" "$TMP/k8s-env/cluster" >"$TMP/env-cluster.json"
t_eq "cluster: the StorageClass's KMS key from cluster.yaml, no placeholder left" "1" \
  "$(grep -c 'marker-ebs' "$TMP/env-cluster.json")$(grep -c 000000000000 "$TMP/env-cluster.json" | sed 's/^0$//')"

# --- alerts -------------------------------------------------------------------------------
mkdir -p "$TMP/rules"
extract_rules() {
  "$PY" - "$1" "$2" <<'EOF'
import json, sys, yaml
groups = [g for o in json.load(open(sys.argv[1])) if o["kind"] == "PrometheusRule"
          for g in o["spec"]["groups"]]
yaml.safe_dump({"groups": groups}, open(sys.argv[2], "w"), sort_keys=False)
EOF
}
extract_rules "$(out overlays/production)" "$TMP/rules/rules.yml"
cp "$D/alerts_test.yml" "$TMP/rules/"
t_check "alerts: promtool check rules" promtool check rules "$TMP/rules/rules.yml"
t_check "alerts: promtool test rules (tests/deploy/alerts_test.yml)" \
  promtool test rules "$TMP/rules/alerts_test.yml"

# --- broken copies: every checker must refuse them ------------------------------------------
B=$TMP/broken
mkdir -p "$B"

# the assembler: a field it does not implement, a patch whose test fails,
# a file that is not YAML
cp -r "$WARDEN_ROOT/k8s" "$B/k8s-field"
printf 'commonLabels:\n  a: b\n' >>"$B/k8s-field/overlays/production/kustomization.yaml"
cp -r "$WARDEN_ROOT/k8s" "$B/k8s-test"
sed -i 's/        value: WARDEN_THREADS/        value: WARDEN_NOT_THREADS/' \
  "$B/k8s-test/overlays/staging/kustomization.yaml"
cp -r "$WARDEN_ROOT/k8s" "$B/k8s-yaml"
printf 'kind: [unclosed\n' >>"$B/k8s-yaml/base/edge/service.yaml"
for c in field:overlays/production test:overlays/staging yaml:base; do
  "$PY" "$D/kustomize.py" "$B/k8s-${c%%:*}/${c#*:}" >/dev/null 2>"$B/err-${c%%:*}"
  rc=$?
  t_eq "broken copy refused by the assembler (${c%%:*}): exit status" 1 "$rc"
done
t_match "the assembler names the unsupported field" "commonLabels" "$(cat "$B/err-field")"
t_match "the assembler names the failed test" "test .*env/3/name failed" "$(cat "$B/err-test")"

# the schema validator: misspelt fields, wrong types, unknown kinds
"$PY" - "$(out overlays/production)" "$B/schema.json" <<'EOF'
import json, sys
objs = json.load(open(sys.argv[1]))
for o in objs:
    if o["kind"] == "Deployment" and o["metadata"]["name"] == "warden-edge":
        c = o["spec"]["template"]["spec"]["containers"][0]
        c["readinesProbe"] = c.pop("readinessProbe")
        c["ports"][0]["containerPort"] = "8080"
    if o["kind"] == "Cluster":
        o["spec"]["postgresql"]["paramters"] = {}
    if o["kind"] == "RabbitmqCluster":
        o["spec"]["replicas"] = "3"
    if o["kind"] == "ServiceMonitor":
        o["spec"]["endpoints"][0]["pth"] = "/metrics"
objs.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
json.dump(objs, open(sys.argv[2], "w"))
EOF
node "$D/validate.js" "$B/schema.json" >"$B/schema.out" 2>&1
t_eq "broken copy refused by the schema validator: exit status" 1 "$?"
for want in "Deployment/warden-edge: /spec/template/spec/containers/0/readinesProbe: unknown field" \
  "Deployment/warden-edge: data/spec/template/spec/containers/0/ports/0/containerPort must be integer" \
  "Cluster/warden-pg: /spec/postgresql must NOT have additional properties (paramters)" \
  "RabbitmqCluster/warden-rabbitmq: /spec/replicas must be integer" \
  "ServiceMonitor/warden-edge: /spec/endpoints/0/pth: unknown field" \
  "Widget/w: no schema for example.com/v1 Widget"; do
  t_check "the schema validator reports: $want" grep -qF -- "$want" "$B/schema.out"
done

# the policy: each break must be named
"$PY" - "$(out overlays/production)" "$B/policy.json" <<'EOF'
import json, sys
objs = json.load(open(sys.argv[1]))
keep = []
for o in objs:
    k, n = o["kind"], o["metadata"]["name"]
    if k == "HorizontalPodAutoscaler":
        o["spec"]["maxReplicas"] = 10
        o["spec"]["metrics"] = o["spec"]["metrics"][:1]
    if k == "Ingress":
        o["metadata"]["annotations"]["alb.ingress.kubernetes.io/ssl-policy"] = "ELBSecurityPolicy-TLS-1-2-2017-01"
    if k == "NetworkPolicy" and n == "default-deny":
        continue
    if k == "NetworkPolicy" and n == "redis-ingress":
        o["spec"]["ingress"] = [{}]
    if k == "Deployment" and n == "warden-edge":
        pod = o["spec"]["template"]["spec"]
        pod["securityContext"]["runAsNonRoot"] = False
        pod["topologySpreadConstraints"] = pod["topologySpreadConstraints"][1:]
        env = pod["containers"][0]["env"]
        env.append({"name": "WARDEN_NO_SUCH_SETTING", "value": "1"})
        for e in env:
            if e["name"] == "WARDEN_THREADS":
                e["value"] = "5000"
            if e["name"] == "WARDEN_REDIS_URL":
                e.pop("valueFrom")
                e["value"] = "redis://:hunter2@warden-redis:6379"
        pod["containers"][0]["readinessProbe"]["httpGet"]["path"] = "/healthz"
    if k == "PrometheusRule":
        o["spec"]["groups"][0]["rules"][0]["expr"] += " or warden_edge_no_such_metric > 0"
    keep.append(o)
json.dump(keep, open(sys.argv[2], "w"))
EOF
"$PY" "$D/k8s_policy.py" "$WARDEN_ROOT" "$B/policy.json" warden >"$B/policy.out" 2>&1
t_eq "broken copy refused by the policy: exit status" 1 "$?"
for want in "FAIL HPA: min 2, max 20" "FAIL HPA: on CPU and memory" \
  "FAIL Ingress: TLS 1.3 policy" "FAIL NetworkPolicy: default deny" \
  "FAIL NetworkPolicy: another namespace -/-> Redis 6379" \
  "FAIL edge: pods run as non-root" "FAIL edge: spread across zones" \
  "FAIL edge: every WARDEN_* variable is a setting of edge/config.c" \
  "FAIL edge: every value within its setting's range" \
  "FAIL edge: WARDEN_REDIS_URL from the Secret warden-edge" \
  "FAIL no credentials in any URL" "FAIL edge: readiness probe GET /readyz" \
  "FAIL alerts: every warden metric they read exists in edge/metrics.c"; do
  t_check "the policy reports: ${want#FAIL }" grep -qF -- "$want" "$B/policy.out"
done

# promtool: a broken expression, and an alert whose threshold moved
"$PY" - "$TMP/rules/rules.yml" "$B/rules-syntax.yml" "$B/rules-threshold.yml" <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["groups"][0]["rules"][0]["expr"] = "sum by (namespace (rate(warden_edge_requests_total[5m]))"
yaml.safe_dump(d, open(sys.argv[2], "w"))
d = yaml.safe_load(open(sys.argv[1]))
for g in d["groups"]:
    for r in g["rules"]:
        r["expr"] = r["expr"].replace("> 0.2", "> 0.5")
yaml.safe_dump(d, open(sys.argv[3], "w"))
EOF
promtool check rules "$B/rules-syntax.yml" >/dev/null 2>&1
t_eq "broken copy refused by promtool check rules: exit status" 1 "$?"
mkdir -p "$B/rules"
cp "$B/rules-threshold.yml" "$B/rules/rules.yml"
cp "$D/alerts_test.yml" "$B/rules/"
promtool test rules "$B/rules/alerts_test.yml" >"$B/promtool.out" 2>&1
t_eq "an alert with a moved threshold fails the alert tests: exit status" 1 "$?"
t_match "the alert tests name the latency alert" "WardenEdgeLatencyP95High" "$(cat "$B/promtool.out")"

t_done
