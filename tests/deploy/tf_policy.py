#!/usr/bin/python3
"""
tests/deploy/tf_policy.py: what warden's Terraform must say.

Usage: tf_policy.py ROOT PARSED.json
  ROOT    the checkout (k8s/ is read there for the facts both sides share)
  PARSED  terraform/*.tf as tests/deploy/hcl2json.js prints them

Prints "PASS name" or "FAIL name: why" per assertion and exits 1 if any
failed. Asserted: region us-east-1; three zones, three public and three
private subnets, a NAT gateway and a route table per zone; KMS keys with
rotation for EBS (default encryption and node volumes), EKS Secrets, the
S3 backups and ECR; the bucket versioned, private, TLS-only, SSE-KMS; ECR
repositories warden-edge and warden-postgres immutable and scanned; node
groups per zone with the cluster autoscaler's tags; IRSA roles and the
GitHub deploy role; providers pinned; every variable and output described;
no literal secret. The edge's HPA (2..20) and the Ingress's TLS 1.3 policy
are read from k8s/, and the public subnets must be the range the edge
trusts and lets in.
"""
import ipaddress
import json
import re
import sys

import yaml

from policy import check, report


def blocks(tf, kind):
    """Merged {type: {name: [body]}} (resource, data) or {name: [body]}."""
    out = {}
    for parsed in tf.values():
        found = parsed.get(kind, {})
        if isinstance(found, list):  # locals: one object per block
            merged = {}
            for part in found:
                merged.update(part)
            found = {k: [v] for k, v in merged.items()}
        for k, v in found.items():
            if kind in ("resource", "data"):
                for name, body in v.items():
                    out.setdefault(k, {})[name] = body
            else:
                out[k] = v
    return out


def body(resources, rtype, name):
    b = resources.get(rtype, {}).get(name)
    check(f"{rtype}.{name} exists", b is not None)
    return b[0] if b else {}


def first(value):
    return value[0] if isinstance(value, list) and value else (value or {})


def refers(value, pattern):
    return isinstance(value, str) and re.search(pattern, value) is not None


def walk(node, path=""):
    """(path, key, value) of every attribute, nested ones included."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}" if path else k)
            yield path, k, v
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def main():
    root, parsed = sys.argv[1], sys.argv[2]
    tf = json.load(open(parsed, encoding="utf-8"))
    res = blocks(tf, "resource")
    data = blocks(tf, "data")
    variables = {k: v[0] for k, v in blocks(tf, "variable").items()}
    outputs = {k: v[0] for k, v in blocks(tf, "output").items()}

    def default(name):
        return variables.get(name, {}).get("default")

    # --- region and zones -----------------------------------------------------
    region = variables.get("region", {})
    check("region: variable region defaults to us-east-1", region.get("default") == "us-east-1")
    check("region: variable region is validated",
          any("us-east-1" in str(v.get("condition")) for v in region.get("validation", [])))
    provider = first(blocks(tf, "provider").get("aws"))
    check("region: the AWS provider uses var.region", provider.get("region") == "${var.region}")
    azs = default("availability_zones") or []
    check("zones: three distinct zones by default, all in us-east-1",
          len(azs) == 3 and len(set(azs)) == 3 and all(z.startswith("us-east-1") for z in azs),
          str(azs))
    check("zones: variable availability_zones validated to exactly three",
          any("length(var.availability_zones) == 3" in str(v.get("condition"))
              for v in variables.get("availability_zones", {}).get("validation", [])))

    per_zone = "${length(var.availability_zones)}"
    for rtype, name in (("aws_subnet", "public"), ("aws_subnet", "private"),
                        ("aws_nat_gateway", "main"), ("aws_eip", "nat"),
                        ("aws_route_table", "private"), ("aws_eks_node_group", "zone")):
        b = body(res, rtype, name)
        check(f"zones: one {rtype}.{name} per zone", b.get("count") == per_zone, str(b.get("count")))
    pub = body(res, "aws_subnet", "public")
    priv = body(res, "aws_subnet", "private")
    nat = body(res, "aws_nat_gateway", "main")
    rt = body(res, "aws_route_table", "private")
    check("NAT: each zone's gateway in that zone's public subnet",
          nat.get("subnet_id") == "${aws_subnet.public[count.index].id}")
    check("NAT: each zone's private route table leaves through its own zone's gateway",
          first(rt.get("route")).get("nat_gateway_id") == "${aws_nat_gateway.main[count.index].id}")
    check("subnets: public ones tagged for internet-facing load balancers",
          pub.get("tags", {}).get("kubernetes.io/role/elb") == "1")
    check("subnets: private ones tagged for internal load balancers, no public addresses",
          priv.get("tags", {}).get("kubernetes.io/role/internal-elb") == "1"
          and priv.get("map_public_ip_on_launch") is False)

    # the subnets' ranges, computed from the defaults as cidrsubnet() does
    vpc = ipaddress.ip_network(default("vpc_cidr"))

    def cidrsubnet(expr, index):
        m = re.fullmatch(r"\$\{cidrsubnet\(var\.vpc_cidr, (\d+), count\.index( \+ (\d+))?\)\}", expr or "")
        if not m:
            return None
        bits = int(m.group(1))
        return list(vpc.subnets(prefixlen_diff=bits))[index + int(m.group(3) or 0)]

    pubs = [cidrsubnet(pub.get("cidr_block"), i) for i in range(3)]
    privs = [cidrsubnet(priv.get("cidr_block"), i) for i in range(3)]
    if check("subnets: ranges computed with cidrsubnet from var.vpc_cidr",
             None not in pubs + privs, f"{pub.get('cidr_block')} {priv.get('cidr_block')}"):
        allnets = pubs + privs
        check("subnets: six ranges, none overlapping",
              all(not a.overlaps(b) for i, a in enumerate(allnets) for b in allnets[i + 1:]),
              str(allnets))
        with open(f"{root}/k8s/base/network/edge.yaml", encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        blocks_k8s = [ipaddress.ip_network(p["ipBlock"]["cidr"])
                      for d in docs if d["metadata"]["name"] == "edge-ingress"
                      for r in d["spec"]["ingress"] for p in r["from"] if "ipBlock" in p]
        check("subnets: the public ones are exactly what k8s/ lets into the edge (and trusts)",
              len(blocks_k8s) == 1 and all(n.subnet_of(blocks_k8s[0]) for n in pubs)
              and not any(n.overlaps(blocks_k8s[0]) for n in privs),
              f"public {pubs}, k8s {blocks_k8s}")

    # --- KMS ------------------------------------------------------------------
    keys = res.get("aws_kms_key", {})
    check("KMS: keys for ebs, eks, backups and ecr", {"ebs", "eks", "backups", "ecr"} <= set(keys),
          str(sorted(keys)))
    for name, b in keys.items():
        check(f"KMS: aws_kms_key.{name} rotates automatically", b[0].get("enable_key_rotation") is True)
        check(f"KMS: aws_kms_key.{name} is a symmetric AES-256 key",
              b[0].get("customer_master_key_spec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
              and b[0].get("key_usage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT")

    # --- EKS ------------------------------------------------------------------
    eks = body(res, "aws_eks_cluster", "main")
    enc = first(eks.get("encryption_config"))
    check("EKS: Secrets encrypted with the EKS key",
          enc.get("resources") == ["secrets"]
          and first(enc.get("provider")).get("key_arn") == "${aws_kms_key.eks.arn}")
    vpc_config = first(eks.get("vpc_config"))
    check("EKS: control plane in the private subnets, private endpoint on",
          vpc_config.get("subnet_ids") == "${aws_subnet.private[*].id}"
          and vpc_config.get("endpoint_private_access") is True)
    check("EKS: audit log on", "audit" in (eks.get("enabled_cluster_log_types") or []))
    check("EKS: Kubernetes 1.33 by default (k8s/ is validated against it)",
          default("kubernetes_version") == "1.33")
    cni = body(res, "aws_eks_addon", "vpc_cni")
    check("EKS: the VPC CNI enforces NetworkPolicies",
          "enableNetworkPolicy" in str(cni.get("configuration_values")))
    check("EKS: the EBS CSI driver add-on, with its IRSA role",
          body(res, "aws_eks_addon", "ebs_csi").get("service_account_role_arn") == "${aws_iam_role.ebs_csi.arn}")
    check("EKS: an IAM OIDC provider for IRSA",
          "eks" in res.get("aws_iam_openid_connect_provider", {}))

    ng = body(res, "aws_eks_node_group", "zone")
    sc = first(ng.get("scaling_config"))
    check("nodes: each zone's group in that zone's private subnet",
          ng.get("subnet_ids") == ["${aws_subnet.private[count.index].id}"])
    check("nodes: sizes from var.node_min_size and var.node_max_size",
          sc.get("min_size") == "${var.node_min_size}" and sc.get("max_size") == "${var.node_max_size}")
    lo, hi, want = default("node_min_size"), default("node_max_size"), default("node_desired_size")
    check("nodes: at least one node per zone, min <= desired <= max",
          isinstance(lo, (int, float)) and lo >= 1 and lo <= want <= hi, f"{lo} {want} {hi}")
    check("nodes: room to grow (max at least twice min)", hi >= 2 * lo, f"{lo}..{hi}")
    tags = ng.get("tags", {})
    check("nodes: cluster autoscaler auto-discovery tags",
          tags.get("k8s.io/cluster-autoscaler/enabled") == "true"
          and tags.get("k8s.io/cluster-autoscaler/${local.cluster_name}") == "owned")
    check("nodes: the desired size left to the cluster autoscaler",
          "scaling_config[0].desired_size" in str(first(ng.get("lifecycle")).get("ignore_changes")))
    lt = body(res, "aws_launch_template", "node")
    ebs = first(first(lt.get("block_device_mappings")).get("ebs"))
    check("nodes: root volumes encrypted with the EBS key",
          ebs.get("encrypted") is True and ebs.get("kms_key_id") == "${aws_kms_key.ebs.arn}")
    md = first(lt.get("metadata_options"))
    check("nodes: IMDSv2 only, one hop (pods cannot use the node's role)",
          md.get("http_tokens") == "required" and md.get("http_put_response_hop_limit") == 1)
    check("EBS: default encryption on, with the EBS key",
          body(res, "aws_ebs_encryption_by_default", "main").get("enabled") is True
          and body(res, "aws_ebs_default_kms_key", "main").get("key_arn") == "${aws_kms_key.ebs.arn}")

    # --- S3 -------------------------------------------------------------------
    sse = first(first(body(res, "aws_s3_bucket_server_side_encryption_configuration", "pg_backups")
                      .get("rule")).get("apply_server_side_encryption_by_default"))
    check("S3: backups encrypted with SSE-KMS under the backups key",
          sse.get("sse_algorithm") == "aws:kms"
          and sse.get("kms_master_key_id") == "${aws_kms_key.backups.arn}")
    check("S3: versioning on",
          first(body(res, "aws_s3_bucket_versioning", "pg_backups")
                .get("versioning_configuration")).get("status") == "Enabled")
    pab = body(res, "aws_s3_bucket_public_access_block", "pg_backups")
    check("S3: every public access blocked",
          all(pab.get(k) is True for k in ("block_public_acls", "block_public_policy",
                                           "ignore_public_acls", "restrict_public_buckets")))
    pol = data.get("aws_iam_policy_document", {}).get("pg_backups", [{}])[0]
    stmts = pol.get("statement", [])
    check("S3: the bucket policy refuses requests without TLS",
          any(s.get("effect") == "Deny" and any(c.get("variable") == "aws:SecureTransport"
                                                and c.get("values") == ["false"]
                                                for c in s.get("condition", []))
              for s in stmts))
    check("S3: the bucket policy refuses other encryption and other keys",
          {"NoOtherEncryption", "NoOtherKey", "KmsNamesTheKey"} <= {s.get("sid") for s in stmts})
    check("S3: the bucket policy is attached",
          body(res, "aws_s3_bucket_policy", "pg_backups").get("policy")
          == "${data.aws_iam_policy_document.pg_backups.json}")

    # --- ECR ------------------------------------------------------------------
    ecr = body(res, "aws_ecr_repository", "image")
    repo_names = re.findall(r'"([^"]+)"', str(first(blocks(tf, "locals").get("repositories"))))
    check("ECR: repositories warden-edge and warden-postgres",
          ecr.get("for_each") == "${local.repositories}"
          and sorted(repo_names) == ["warden-edge", "warden-postgres"], str(repo_names))
    check("ECR: tags immutable", ecr.get("image_tag_mutability") == "IMMUTABLE")
    check("ECR: every push scanned",
          first(ecr.get("image_scanning_configuration")).get("scan_on_push") is True)
    enc = first(ecr.get("encryption_configuration"))
    check("ECR: images encrypted with the ECR key",
          enc.get("encryption_type") == "KMS" and enc.get("kms_key") == "${aws_kms_key.ecr.arn}")

    # --- IAM ------------------------------------------------------------------
    roles = res.get("aws_iam_role", {})
    for name in ("aws_load_balancer_controller", "cluster_autoscaler", "ebs_csi", "cnpg_backup", "edge"):
        r = roles.get(name, [{}])[0]
        check(f"IAM: role {name} assumed through IRSA",
              r.get("assume_role_policy") == f'${{data.aws_iam_policy_document.irsa_trust["{name}"].json}}')
    subjects = str(first(blocks(tf, "locals").get("irsa_subjects")))
    check("IAM: IRSA roles bound to their service accounts",
          all(s in subjects for s in ("kube-system:aws-load-balancer-controller",
                                      "kube-system:cluster-autoscaler",
                                      "kube-system:ebs-csi-controller-sa",
                                      "${ns}:warden-pg", "${ns}:warden-edge")))
    check("IAM: the edge's role has no permissions",
          not any(refers(b[0].get("role"), r"aws_iam_role\.edge\.")
                  for t in ("aws_iam_role_policy", "aws_iam_role_policy_attachment")
                  for b in res.get(t, {}).values()))
    gh = data.get("aws_iam_policy_document", {}).get("github_trust", [{}])[0]
    conds = [c for s in gh.get("statement", []) for c in s.get("condition", [])]
    check("IAM: the deploy role trusts only the repository's jobs (aud and sub)",
          any(c.get("variable") == "token.actions.githubusercontent.com:aud" for c in conds)
          and any(c.get("variable") == "token.actions.githubusercontent.com:sub"
                  and all("repo:${var.github_repository}:" in v for v in c.get("values", []))
                  for c in conds))
    for name in ("github_deploy_role_arn", "cluster_name", "ecr_repository_urls"):
        check(f"outputs: {name}", name in outputs)

    # --- hygiene --------------------------------------------------------------
    terraform = first(tf.get("versions.tf", {}).get("terraform"))
    providers = first(terraform.get("required_providers"))
    check("versions: Terraform version constrained", bool(terraform.get("required_version")))
    check("versions: every provider pinned to an exact version",
          providers and all(re.fullmatch(r"=?\s*\d+\.\d+\.\d+", p.get("version", ""))
                            for p in providers.values()), json.dumps(providers))
    undescribed = [f"variable {k}" for k, v in variables.items() if not str(v.get("description", "")).strip()]
    undescribed += [f"output {k}" for k, v in outputs.items() if not str(v.get("description", "")).strip()]
    check("every variable and output has a description", not undescribed, str(undescribed))
    untyped = [k for k, v in variables.items() if "type" not in v]
    check("every variable has a type", not untyped, str(untyped))
    secretish = re.compile(r"(^|_)(password|passwd|secret|secret_key|token|private_key|access_key)$", re.I)
    literal = []
    for f, parsed_file in tf.items():
        for path, key, value in walk(parsed_file):
            if secretish.search(key) and isinstance(value, str) and value and "${" not in value:
                literal.append(f"{f}: {path}.{key}")
    check("no literal value in an attribute named like a secret", not literal, str(literal))
    raw = json.dumps(tf)
    leaks = re.findall(r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|aws_secret_access_key", raw)
    check("no access key or private key anywhere", not leaks, str(leaks))
    sensitive_defaults = [k for k, v in variables.items()
                          if secretish.search(k) and v.get("default") not in (None, "")]
    check("no variable named like a secret has a default", not sensitive_defaults,
          str(sensitive_defaults))

    # --- facts kept in k8s/ ---------------------------------------------------
    def k8s(path):
        with open(f"{root}/k8s/base/{path}", encoding="utf-8") as f:
            return next(d for d in yaml.safe_load_all(f) if d)

    hpa = k8s("edge/hpa.yaml")["spec"]
    check("the edge's HPA scales between 2 and 20 (k8s/base/edge/hpa.yaml)",
          hpa.get("minReplicas") == 2 and hpa.get("maxReplicas") == 20,
          f"{hpa.get('minReplicas')}..{hpa.get('maxReplicas')}")
    ing = k8s("edge/ingress.yaml")["metadata"]["annotations"]
    check("the load balancer's TLS policy is TLS 1.3 (k8s/base/edge/ingress.yaml)",
          ing.get("alb.ingress.kubernetes.io/ssl-policy") == "ELBSecurityPolicy-TLS13-1-3-2021-06")

    return report()


if __name__ == "__main__":
    sys.exit(main())
