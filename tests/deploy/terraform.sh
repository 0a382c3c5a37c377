#!/usr/bin/env bash
# tests/deploy/terraform.sh: terraform/ checked offline, without AWS.
#
# Every .tf file must parse as HCL2 with HashiCorp's own parser (npm
# @cdktf/hcl2json, the Go hcl library as WebAssembly: tests/deploy/
# hcl2json.js); then tf_policy.py asserts the deployment's facts over the
# parsed blocks: us-east-1, three zones with public and private subnets and
# a NAT gateway each, KMS keys with rotation on EKS Secrets, EBS, the S3
# backups and ECR, the bucket private, versioned and TLS-only, the ECR
# repositories immutable and scanned, node groups per zone for the cluster
# autoscaler, the IRSA and GitHub deploy roles, pinned providers, every
# variable and output described, no literal secret, and the facts it shares
# with k8s/ (the edge's HPA 2..20, the TLS 1.3 policy, the public subnets
# the edge trusts). The parser and the policy must each refuse a broken
# copy.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/deploy/npm.bash"

PY=/usr/bin/python3
D=$WARDEN_ROOT/tests/deploy
TF=$WARDEN_ROOT/terraform
TMP=$WARDEN_TEST_TMP/terraform
rm -rf "$TMP"
mkdir -p "$TMP"

t_check "python3 with PyYAML" "$PY" -c 'import yaml'
if ! t_check "npm tools installed (tests/deploy/package-lock.json)" deploy_npm; then
  t_done
  exit 1
fi

# policy LABEL ROOT PARSED: one row per assertion of tf_policy.py
policy() {
  local label=$1 line
  while IFS= read -r line; do
    case $line in
      PASS\ *) t_pass "$label${line#PASS }" ;;
      FAIL\ *) t_fail "$label${line#FAIL }" ;;
      *) t_fail "${label}unexpected output" "$line" ;;
    esac
  done < <("$PY" "$D/tf_policy.py" "$2" "$3" 2>&1)
}

files=("$TF"/*.tf)
t_check "terraform/ has its files" test "${#files[@]}" -ge 8
for f in "${files[@]}"; do
  t_check "terraform/$(basename "$f") parses as HCL2" node "$D/hcl2json.js" "$f"
done
t_check "terraform/: all files parsed together" sh -c "node '$D/hcl2json.js' '$TF'/*.tf >'$TMP/parsed.json'"
policy "terraform: " "$WARDEN_ROOT" "$TMP/parsed.json"

# --- broken copies ------------------------------------------------------------------
B=$TMP/broken
mkdir -p "$B/tf" "$B/root"

# the parser: an unclosed block and an expression cut short
printf 'resource "aws_vpc" "x" {\n  cidr_block = "10.0.0.0/16"\n' >"$B/unclosed.tf"
printf 'variable "x" {\n  default =\n}\n' >"$B/cut.tf"
for f in unclosed cut; do
  node "$D/hcl2json.js" "$B/$f.tf" >/dev/null 2>"$B/$f.err"
  t_eq "broken copy refused by the HCL2 parser ($f): exit status" 1 "$?"
  t_match "the parser names the file and the line ($f)" "$f\.tf.*$f\.tf:[0-9]+" "$(cat "$B/$f.err")"
done

# the policy: a copy of terraform/ and k8s/ with one break per fact
cp "$TF"/*.tf "$B/tf/"
cp -r "$WARDEN_ROOT/k8s" "$B/root/k8s"
"$PY" - "$B/tf" "$B/root/k8s" <<'EOF'
import re, sys
tf, k8s = sys.argv[1], sys.argv[2]
def edit(path, old, new, count=1):
    s = open(path).read()
    if old not in s:
        sys.exit(f"cannot break {path}: {old!r} not found")
    open(path, "w").write(s.replace(old, new, count))
edit(f"{tf}/variables.tf", 'default     = "us-east-1"', 'default     = "us-west-2"')
edit(f"{tf}/variables.tf", '["us-east-1a", "us-east-1b", "us-east-1c"]', '["us-east-1a", "us-east-1b"]')
edit(f"{tf}/network.tf", 'resource "aws_nat_gateway" "main" {\n  count = length(var.availability_zones)',
     'resource "aws_nat_gateway" "main" {\n  count = 1')
edit(f"{tf}/kms.tf", 'description             = "${var.project}: PostgreSQL backups in S3"\n  key_usage               = "ENCRYPT_DECRYPT"\n  enable_key_rotation     = true',
     'description             = "${var.project}: PostgreSQL backups in S3"\n  key_usage               = "ENCRYPT_DECRYPT"\n  enable_key_rotation     = false')
edit(f"{tf}/eks.tf", '    resources = ["secrets"]\n', '    resources = []\n')
edit(f"{tf}/s3.tf", 'status = "Enabled"\n  }\n}', 'status = "Suspended"\n  }\n}')
edit(f"{tf}/s3.tf", 'sse_algorithm     = "aws:kms"', 'sse_algorithm     = "AES256"')
edit(f"{tf}/ecr.tf", '"IMMUTABLE"', '"MUTABLE"')
edit(f"{tf}/versions.tf", 'version = "5.100.0"', 'version = "~> 5.0"')
edit(f"{tf}/variables.tf", '  description = "Days a replaced', '  # description = "Days a replaced')
edit(f"{tf}/iam.tf", 'resource "aws_iam_role" "edge" {',
     'resource "aws_iam_role_policy_attachment" "edge" {\n  role       = aws_iam_role.edge.name\n  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}\n\nresource "aws_iam_role" "edge" {')
edit(f"{tf}/eks.tf", '    http_tokens                 = "required"',
     '    http_tokens                 = "required"\n    api_token                   = "hunter2-not-a-reference"')
edit(f"{k8s}/base/edge/hpa.yaml", "maxReplicas: 20", "maxReplicas: 10")
edit(f"{k8s}/base/edge/ingress.yaml", "ssl-policy: ELBSecurityPolicy-TLS13-1-3-2021-06", "ssl-policy: ELBSecurityPolicy-2016-08")
edit(f"{k8s}/base/network/edge.yaml", "cidr: 10.0.0.0/18", "cidr: 10.0.0.0/16")
EOF
t_eq "the broken copy was made" 0 "$?"
node "$D/hcl2json.js" "$B/tf"/*.tf >"$B/parsed.json"
t_eq "the broken copy still parses" 0 "$?"
"$PY" "$D/tf_policy.py" "$B/root" "$B/parsed.json" >"$B/policy.out" 2>&1
t_eq "broken copy refused by the policy: exit status" 1 "$?"
for want in "FAIL region: variable region defaults to us-east-1" \
  "FAIL zones: three distinct zones by default" \
  "FAIL zones: one aws_nat_gateway.main per zone" \
  "FAIL KMS: aws_kms_key.backups rotates automatically" \
  "FAIL EKS: Secrets encrypted with the EKS key" \
  "FAIL S3: versioning on" "FAIL S3: backups encrypted with SSE-KMS" \
  "FAIL ECR: tags immutable" \
  "FAIL versions: every provider pinned to an exact version" \
  "FAIL every variable and output has a description" \
  "FAIL IAM: the edge's role has no permissions" \
  "FAIL no literal value in an attribute named like a secret" \
  "FAIL the edge's HPA scales between 2 and 20" \
  "FAIL the load balancer's TLS policy is TLS 1.3" \
  "FAIL subnets: the public ones are exactly what k8s/ lets into the edge"; do
  t_check "the policy reports: ${want#FAIL }" grep -qF -- "$want" "$B/policy.out"
done

t_done
