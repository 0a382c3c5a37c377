#!/usr/bin/python3
"""
tests/deploy/k8s_policy.py: what warden's Kubernetes objects must say.

Usage: k8s_policy.py ROOT OBJECTS.json NAMESPACE
  ROOT       the checkout (edge/config.c and edge/metrics.c are read there)
  OBJECTS    an assembled kustomization (tests/deploy/kustomize.py)
  NAMESPACE  the namespace every namespaced object must be in ("" for base),
             or "@cluster" for k8s/cluster (StorageClass, log shipping)

Prints one line per assertion, "PASS name" or "FAIL name: why", and exits 1
if any failed. The facts come from the issue (2 to 20 edges on CPU and
memory, zones, TLS 1.3, probes) and from the edge's own sources: every
WARDEN_* variable set must exist in edge/config.c with a value its parser
accepts, every warden metric an alert reads must exist in edge/metrics.c.
"""
import ipaddress
import json
import re
import sys

from policy import check, report


def find(objs, kind, name=None):
    hits = [o for o in objs if o["kind"] == kind and
            (name is None or o["metadata"]["name"] == name)]
    return hits


def one(objs, kind, name):
    hits = find(objs, kind, name)
    check(f"{kind}/{name} exists once", len(hits) == 1, f"found {len(hits)}")
    return hits[0] if hits else None


def dig(obj, *path, default=None):
    for p in path:
        if isinstance(obj, dict) and p in obj:
            obj = obj[p]
        elif isinstance(obj, list) and isinstance(p, int) and p < len(obj):
            obj = obj[p]
        else:
            return default
    return obj


def quantity(q):
    """CPU cores or bytes of a Kubernetes quantity."""
    m = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?", str(q))
    if not m:
        return None
    n = float(m.group(1))
    mult = {None: 1, "m": 0.001, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
            "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
    return n * mult


# --- the edge's sources ------------------------------------------------------

def edge_settings(root):
    """{name: {type, min, max, values}} from the table in edge/config.c."""
    text = open(f"{root}/edge/config.c", encoding="utf-8").read()
    arrays = {}
    for m in re.finditer(r"const char \*const (\w+)\[\] = \{([^}]*)\}", text):
        arrays[m.group(1)] = re.findall(r'"([^"]*)"', m.group(2))
    table = text[text.index("config_settings[] = {"):]
    table = table[:table.index("\n};")]
    settings = {}
    for block in re.findall(r"\{\s*\.name = .*?\n\t\}", table, re.S):
        name = re.search(r'\.name = "(\w+)"', block).group(1)
        s = {"type": re.search(r"\.type = (\w+)", block).group(1)}
        for f in ("min", "max"):
            m = re.search(rf"\.{f} = (-?\d+)", block)
            if m:
                s[f] = int(m.group(1))
        m = re.search(r"\.values = (\w+)", block)
        if m:
            s["values"] = arrays[m.group(1)]
        settings[name] = s
    return settings


def edge_metrics(root):
    """Every metric family edge/metrics.c exposes."""
    text = open(f"{root}/edge/metrics.c", encoding="utf-8").read()
    return set(re.findall(r'"(warden_[a-z0-9_]+)', text))


# --- NetworkPolicy evaluation --------------------------------------------------

def labels_match(selector, labels):
    if selector is None:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        has = e["key"] in labels
        val = labels.get(e["key"])
        op = e["operator"]
        if op == "In" and val not in e["values"]:
            return False
        if op == "NotIn" and val in e["values"]:
            return False
        if op == "Exists" and not has:
            return False
        if op == "DoesNotExist" and has:
            return False
    return True


def peer_matches(peer, endpoint, policy_ns):
    """endpoint: {"ns", "labels"} for a pod, {"ip"} for an address."""
    if "ipBlock" in peer:
        if "ip" not in endpoint:
            return False
        ip = ipaddress.ip_address(endpoint["ip"])
        if ip not in ipaddress.ip_network(peer["ipBlock"]["cidr"]):
            return False
        return not any(ip in ipaddress.ip_network(c)
                       for c in peer["ipBlock"].get("except", []))
    if "ip" in endpoint:
        return False
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": endpoint["ns"],
                     **endpoint.get("ns_labels", {})}
        if not labels_match(peer["namespaceSelector"], ns_labels):
            return False
    elif endpoint["ns"] != policy_ns:
        return False
    return labels_match(peer.get("podSelector"), endpoint["labels"])


def port_matches(ports, port, proto):
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != proto:
            continue
        if "port" not in p:
            return True
        lo = p["port"]
        if not isinstance(lo, int):
            continue  # named ports are not used by warden's policies
        if lo <= port <= p.get("endPort", lo):
            return True
    return False


def allowed(policies, ns, src, dst, port, proto="TCP"):
    def side(endpoint, direction, peer_key, other):
        if "ip" in endpoint or endpoint["ns"] != ns:
            return True  # outside the namespace: not ours to decide
        selecting = [p for p in policies
                     if labels_match(p["spec"].get("podSelector"), endpoint["labels"])
                     and direction in p["spec"].get("policyTypes", ["Ingress"])]
        if not selecting:
            return True
        for p in selecting:
            for rule in p["spec"].get(direction.lower(), []) or []:
                peers = rule.get(peer_key)
                if (not peers or any(peer_matches(x, other, ns) for x in peers)) \
                        and port_matches(rule.get("ports"), port, proto):
                    return True
        return False

    return side(src, "Egress", "to", dst) and side(dst, "Ingress", "from", src)


# --- the assertions -------------------------------------------------------------

def pod_security(name, pod, containers):
    sc = pod.get("securityContext", {})
    check(f"{name}: pods run as non-root with a numeric UID",
          sc.get("runAsNonRoot") is True and isinstance(sc.get("runAsUser"), int)
          and sc["runAsUser"] > 0, json.dumps(sc))
    check(f"{name}: seccomp RuntimeDefault",
          dig(sc, "seccompProfile", "type") == "RuntimeDefault")
    for c in containers:
        csc = c.get("securityContext", {})
        check(f"{name}/{c['name']}: read-only root, no privilege escalation, no capability",
              csc.get("readOnlyRootFilesystem") is True
              and csc.get("allowPrivilegeEscalation") is False
              and "ALL" in (dig(csc, "capabilities", "drop") or []), json.dumps(csc))


def resources_set(name, containers):
    for c in containers:
        r = c.get("resources", {})
        ok = all(quantity(dig(r, kind, res)) for kind in ("requests", "limits")
                 for res in ("cpu", "memory"))
        check(f"{name}/{c['name']}: CPU and memory requests and limits", ok, json.dumps(r))
        if ok:
            check(f"{name}/{c['name']}: requests within limits",
                  all(quantity(r["requests"][x]) <= quantity(r["limits"][x])
                      for x in ("cpu", "memory")), json.dumps(r))


def check_edge(objs, settings):
    d = one(objs, "Deployment", "warden-edge")
    if d is None:
        return
    pod = d["spec"]["template"]["spec"]
    labels = d["spec"]["template"]["metadata"]["labels"]
    containers = pod["containers"]
    c = next((x for x in containers if x["name"] == "edge"), None)
    if not check("edge: a container named edge", c is not None):
        return
    check("edge: image warden/edge", c["image"].split("@")[0].rsplit(":", 1)[0].endswith("warden/edge")
          or c["image"].split("@")[0].rsplit(":", 1)[0].endswith("/warden-edge"), c["image"])
    ports = {p.get("name"): p for p in c.get("ports", [])}
    check("edge: container port 8080 named http",
          dig(ports, "http", "containerPort") == 8080, json.dumps(c.get("ports")))
    check("edge: readiness probe GET /readyz on http",
          dig(c, "readinessProbe", "httpGet", "path") == "/readyz"
          and dig(c, "readinessProbe", "httpGet", "port") == "http")
    check("edge: liveness probe GET /healthz on http",
          dig(c, "livenessProbe", "httpGet", "path") == "/healthz"
          and dig(c, "livenessProbe", "httpGet", "port") == "http")
    pod_security("edge", pod, containers)
    resources_set("edge", containers)
    check("edge: no service account token mounted",
          pod.get("automountServiceAccountToken") is False)
    zone = [t for t in pod.get("topologySpreadConstraints", [])
            if t.get("topologyKey") == "topology.kubernetes.io/zone"]
    check("edge: spread across zones (DoNotSchedule, maxSkew 1, its own pods)",
          any(t.get("whenUnsatisfiable") == "DoNotSchedule" and t.get("maxSkew") == 1
              and labels_match(t.get("labelSelector"), labels) for t in zone),
          json.dumps(zone))
    check("edge: no replicas in the Deployment (the HPA owns them)",
          "replicas" not in d["spec"])

    env = {e["name"]: e for e in c.get("env", [])}
    unknown = [n for n in env if n.startswith("WARDEN_") and n not in settings]
    check("edge: every WARDEN_* variable is a setting of edge/config.c",
          not unknown, f"unknown: {unknown}")
    for secret in ("WARDEN_DATABASE_URL", "WARDEN_REDIS_URL"):
        check(f"edge: {secret} from the Secret warden-edge, never a literal",
              secret in env and "value" not in env[secret]
              and dig(env[secret], "valueFrom", "secretKeyRef", "name") == "warden-edge",
              json.dumps(env.get(secret)))
    bad = []
    for n, e in env.items():
        s = settings.get(n)
        if s is None or "value" not in e:
            continue
        v = e["value"]
        if s["type"] in ("CONFIG_INT", "CONFIG_MS"):
            if not re.fullmatch(r"-?\d+", v) or not s["min"] <= int(v) <= s["max"]:
                bad.append(f"{n}={v} (range {s['min']}..{s['max']})")
        elif s["type"] == "CONFIG_ENUM" and v.lower() not in s["values"]:
            bad.append(f"{n}={v} (one of {s['values']})")
    check("edge: every value within its setting's range or choices", not bad, "; ".join(bad))
    listen = dig(env, "WARDEN_LISTEN", "value", default="")
    check("edge: WARDEN_LISTEN on all addresses, port 8080", listen == "0.0.0.0:8080", listen)
    proxies = dig(env, "WARDEN_TRUSTED_PROXIES", "value", default="")
    check("edge: WARDEN_TRUSTED_PROXIES trusts the public subnets 10.0.0.0/18 only",
          proxies == "10.0.0.0/18", proxies)

    drain_ms = int(dig(env, "WARDEN_DRAIN_TIMEOUT_MS", "value", default="25000"))
    pre_stop = dig(c, "lifecycle", "preStop", "sleep", "seconds", default=0)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check("edge: grace period covers preStop sleep plus WARDEN_DRAIN_TIMEOUT_MS",
          grace >= pre_stop + drain_ms / 1000, f"grace {grace}, preStop {pre_stop}, drain {drain_ms} ms")
    check("edge: a preStop pause before SIGTERM", pre_stop > 0)

    svc = one(objs, "Service", "warden-edge")
    if svc:
        check("edge Service: port http 8080 to the edge pods",
              labels_match({"matchLabels": svc["spec"]["selector"]}, labels)
              and any(p.get("name") == "http" and p.get("port") == 8080
                      and p.get("targetPort") in ("http", 8080) for p in svc["spec"]["ports"]))

    hpa = one(objs, "HorizontalPodAutoscaler", "warden-edge")
    if hpa:
        s = hpa["spec"]
        check("HPA: scales Deployment warden-edge",
              dig(s, "scaleTargetRef", "kind") == "Deployment"
              and dig(s, "scaleTargetRef", "name") == "warden-edge")
        check("HPA: min 2, max 20", s.get("minReplicas") == 2 and s.get("maxReplicas") == 20,
              f"{s.get('minReplicas')}..{s.get('maxReplicas')}")
        res = {dig(m, "resource", "name") for m in s.get("metrics", []) if m.get("type") == "Resource"}
        check("HPA: on CPU and memory", {"cpu", "memory"} <= res, str(res))

    pdb = one(objs, "PodDisruptionBudget", "warden-edge")
    if pdb:
        s = pdb["spec"]
        check("PDB: covers the edge pods and keeps some up",
              labels_match(s.get("selector"), labels)
              and (s.get("maxUnavailable") == 1 or (s.get("minAvailable") or 0) >= 1))

    ing = one(objs, "Ingress", "warden-edge")
    if ing:
        a = ing["metadata"].get("annotations", {})
        p = "alb.ingress.kubernetes.io/"
        check("Ingress: class alb", ing["spec"].get("ingressClassName") == "alb")
        check("Ingress: internet-facing, target-type ip",
              a.get(p + "scheme") == "internet-facing" and a.get(p + "target-type") == "ip")
        check("Ingress: TLS 1.3 policy (ELBSecurityPolicy-TLS13-1-3-2021-06)",
              a.get(p + "ssl-policy") == "ELBSecurityPolicy-TLS13-1-3-2021-06",
              a.get(p + "ssl-policy", "none"))
        listen = json.loads(a.get(p + "listen-ports", "[]"))
        check("Ingress: HTTPS on 443, HTTP redirected to it",
              {"HTTPS": 443} in listen and a.get(p + "ssl-redirect") == "443", str(listen))
        check("Ingress: a certificate ARN", a.get(p + "certificate-arn", "").startswith("arn:aws:acm:"))
        check("Ingress: load balancer health check on /readyz",
              a.get(p + "healthcheck-path") == "/readyz")
        backends = [dig(path, "backend", "service") for r in ing["spec"].get("rules", [])
                    for path in dig(r, "http", "paths", default=[])]
        check("Ingress: routes to Service warden-edge port http",
              backends and all(b and b["name"] == "warden-edge" and b["port"].get("name") == "http"
                               for b in backends))


def check_postgres(objs):
    cl = one(objs, "Cluster", "warden-pg")
    if cl is None:
        return
    s = cl["spec"]
    check("PostgreSQL: 3 instances", s.get("instances") == 3)
    check("PostgreSQL: one instance per zone (required anti-affinity on the zone)",
          dig(s, "affinity", "topologyKey") == "topology.kubernetes.io/zone"
          and dig(s, "affinity", "podAntiAffinityType") == "required"
          and dig(s, "affinity", "enablePodAntiAffinity") is True)
    check("PostgreSQL: warden in shared_preload_libraries",
          "warden" in (dig(s, "postgresql", "shared_preload_libraries") or []))
    sql = " ".join(dig(s, "bootstrap", "initdb", "postInitApplicationSQL") or [])
    check("PostgreSQL: bootstrap creates the extension",
          re.search(r"CREATE EXTENSION (IF NOT EXISTS )?warden\b", sql) is not None, sql)
    ref = s.get("imageCatalogRef", {})
    cat = one(objs, "ImageCatalog", ref.get("name", "?"))
    if cat:
        img = [i for i in cat["spec"]["images"] if i["major"] == ref.get("major")]
        check("PostgreSQL: the catalog's PostgreSQL 15 image is warden's",
              ref.get("major") == 15 and img
              and re.search(r"(warden/postgres|/warden-postgres)[:@]", img[0]["image"]),
              json.dumps(cat["spec"]))
    plugins = [p for p in s.get("plugins", []) if p.get("isWALArchiver")]
    check("PostgreSQL: WAL archived by the Barman Cloud plugin", len(plugins) == 1)
    store_name = dig(plugins, 0, "parameters", "barmanObjectName", default="?")
    store = one(objs, "ObjectStore", store_name)
    if store:
        c = store["spec"]["configuration"]
        check("backups: to S3", c["destinationPath"].startswith("s3://"))
        check("backups: credentials from the IAM role (IRSA), no keys",
              dig(c, "s3Credentials", "inheritFromIAMRole") is True
              and set(c["s3Credentials"]) == {"inheritFromIAMRole"})
        for part, args in (("wal", "archiveAdditionalCommandArgs"), ("data", "additionalCommandArgs")):
            check(f"backups: {part} encrypted with aws:kms under a named key",
                  dig(c, part, "encryption") == "aws:kms"
                  and any(a.startswith("--sse-kms-key-id=arn:aws:kms:")
                          for a in dig(c, part, args, default=[])))
        check("backups: a retention policy", bool(store["spec"].get("retentionPolicy")))
    check("PostgreSQL: the service account carries an IRSA role",
          dig(s, "serviceAccountTemplate", "metadata", "annotations",
              "eks.amazonaws.com/role-arn", default="").startswith("arn:aws:iam::"))
    sb = find(objs, "ScheduledBackup")
    check("backups: a ScheduledBackup of warden-pg through the plugin",
          any(dig(b, "spec", "cluster", "name") == "warden-pg"
              and dig(b, "spec", "method") == "plugin" for b in sb))
    roles = {r["name"]: r for r in dig(s, "managed", "roles", default=[])}
    edge = roles.get("warden_edge", {})
    check("PostgreSQL: the edge's role is in warden_auth, password from a Secret",
          "warden_auth" in edge.get("inRoles", []) and dig(edge, "passwordSecret", "name"))


def check_rabbitmq(objs):
    r = one(objs, "RabbitmqCluster", "warden-rabbitmq")
    if r is None:
        return
    s = r["spec"]
    check("RabbitMQ: 3 replicas", s.get("replicas") == 3)
    m = re.fullmatch(r"rabbitmq:(\d+)\.(\d+)[\w.-]*", s.get("image", ""))
    check("RabbitMQ: image 3.12 or newer",
          m and (int(m.group(1)), int(m.group(2))) >= (3, 12), s.get("image"))
    terms = dig(s, "affinity", "podAntiAffinity",
                "requiredDuringSchedulingIgnoredDuringExecution", default=[])
    check("RabbitMQ: one node per zone",
          any(t.get("topologyKey") == "topology.kubernetes.io/zone"
              and labels_match(t.get("labelSelector"), {"app.kubernetes.io/name": "warden-rabbitmq"})
              for t in terms))


def check_redis(objs):
    d = one(objs, "Deployment", "warden-redis")
    if d is None:
        return
    pod = d["spec"]["template"]["spec"]
    c = pod["containers"][0]
    m = re.fullmatch(r"redis:(\d+)[\w.-]*", c["image"])
    check("Redis: image 7 or newer", m and int(m.group(1)) >= 7, c["image"])
    pod_security("redis", pod, pod["containers"])
    resources_set("redis", pod["containers"])
    cm = one(objs, "ConfigMap", "warden-redis")
    conf = dig(cm, "data", "redis.conf", default="")
    check("Redis: no persistence (save \"\", appendonly no)",
          re.search(r'^save ""$', conf, re.M) and re.search(r"^appendonly no$", conf, re.M))
    secret_vols = [v for v in pod.get("volumes", []) if dig(v, "secret", "secretName") == "warden-redis"]
    check("Redis: its password from the Secret warden-redis",
          secret_vols and "include /etc/redis/auth/auth.conf" in conf
          and "requirepass" not in conf.replace("# requirepass", ""))


def check_network(objs, ns):
    pols = find(objs, "NetworkPolicy")
    check("NetworkPolicy: default deny of ingress and egress for every pod",
          any(p["spec"].get("podSelector") == {}
              and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
              and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in pols))
    here = ns or "default"
    edge = {"ns": here, "labels": {"app.kubernetes.io/name": "warden-edge"}}
    pg = {"ns": here, "labels": {"cnpg.io/cluster": "warden-pg"}}
    redis = {"ns": here, "labels": {"app.kubernetes.io/name": "warden-redis"}}
    rabbit = {"ns": here, "labels": {"app.kubernetes.io/name": "warden-rabbitmq"}}
    alb = {"ip": "10.0.17.20"}       # a load balancer node, public subnet b
    internet = {"ip": "52.216.8.1"}  # an S3 address
    prom = {"ns": "monitoring", "labels": {"app.kubernetes.io/name": "prometheus"}}
    cnpg_op = {"ns": "cnpg-system", "labels": {"app.kubernetes.io/name": "cloudnative-pg"}}
    dns = {"ns": "kube-system", "labels": {"k8s-app": "kube-dns"}}
    stranger = {"ns": "elsewhere", "labels": {"app.kubernetes.io/name": "warden-edge"}}
    private_pod = {"ip": "10.0.70.9"}  # a pod address in a private subnet
    flows = [
        ("load balancer -> edge 8080", alb, edge, 8080, "TCP", True),
        ("Prometheus -> edge 8080 (/metrics)", prom, edge, 8080, "TCP", True),
        ("edge -> PostgreSQL 5432", edge, pg, 5432, "TCP", True),
        ("edge -> Redis 6379", edge, redis, 6379, "TCP", True),
        ("edge -> DNS 53/udp", edge, dns, 53, "UDP", True),
        ("PostgreSQL -> RabbitMQ 5672 (outbox)", pg, rabbit, 5672, "TCP", True),
        ("PostgreSQL -> PostgreSQL 5432 (replication)", pg, pg, 5432, "TCP", True),
        ("CloudNativePG operator -> PostgreSQL 8000", cnpg_op, pg, 8000, "TCP", True),
        ("CloudNativePG operator -> PostgreSQL 5432", cnpg_op, pg, 5432, "TCP", True),
        ("PostgreSQL -> S3 443 (backups)", pg, internet, 443, "TCP", True),
        ("Prometheus -> PostgreSQL 9187 (exporter)", prom, pg, 9187, "TCP", True),
        ("RabbitMQ -> RabbitMQ 25672 (clustering)", rabbit, rabbit, 25672, "TCP", True),
        ("load balancer -/-> PostgreSQL 5432", alb, pg, 5432, "TCP", False),
        ("load balancer -/-> Redis 6379", alb, redis, 6379, "TCP", False),
        ("load balancer -/-> edge 9000", alb, edge, 9000, "TCP", False),
        ("a private address -/-> edge 8080", private_pod, edge, 8080, "TCP", False),
        ("edge -/-> RabbitMQ 5672", edge, rabbit, 5672, "TCP", False),
        ("edge -/-> the internet 443", edge, internet, 443, "TCP", False),
        ("Redis -/-> PostgreSQL 5432", redis, pg, 5432, "TCP", False),
        ("RabbitMQ -/-> PostgreSQL 5432", rabbit, pg, 5432, "TCP", False),
        ("PostgreSQL -/-> the internet 80", pg, internet, 80, "TCP", False),
        ("another namespace -/-> edge 8080", stranger, edge, 8080, "TCP", False),
        ("another namespace -/-> PostgreSQL 5432", stranger, pg, 5432, "TCP", False),
        ("another namespace -/-> Redis 6379", stranger, redis, 6379, "TCP", False),
    ]
    for name, src, dst, port, proto, want in flows:
        got = allowed(pols, here, src, dst, port, proto)
        check(f"NetworkPolicy: {name}", got == want, f"allowed={got}")


def check_monitoring(objs, metrics):
    sm = one(objs, "ServiceMonitor", "warden-edge")
    svc = find(objs, "Service", "warden-edge")
    if sm and svc:
        svc = svc[0]
        eps = sm["spec"]["endpoints"]
        check("ServiceMonitor: /metrics on the edge Service's http port",
              labels_match(sm["spec"]["selector"], svc["metadata"].get("labels", {}))
              and any(e.get("port") == "http" and e.get("path") == "/metrics" for e in eps))
    rules = [r for pr in find(objs, "PrometheusRule") for g in pr["spec"]["groups"]
             for r in g["rules"]]
    exprs = " ".join(r["expr"] for r in rules)
    names = set(re.findall(r"\b(warden_[a-z0-9_]+)", exprs))
    base = {re.sub(r"_(bucket|sum|count)$", "", n) if n.endswith(("_bucket", "_sum", "_count"))
            and re.sub(r"_(bucket|sum|count)$", "", n) in metrics else n for n in names}
    check("alerts: every warden metric they read exists in edge/metrics.c",
          base <= metrics, f"missing: {sorted(base - metrics)}")
    cnpg = set(re.findall(r"\b(cnpg_[a-z0-9_]+)", exprs))
    known_cnpg = {"cnpg_pg_replication_lag", "cnpg_pg_replication_streaming_replicas"}
    check("alerts: CloudNativePG metrics are its default exporter's",
          cnpg <= known_cnpg, f"unknown: {sorted(cnpg - known_cnpg)}")
    by_alert = {r.get("alert"): r["expr"] for r in rules}

    def has(pattern):
        return any(re.search(pattern, e, re.S) for e in by_alert.values())

    check("alerts: edge error rate (5xx of warden_edge_requests_total)",
          has(r'warden_edge_requests_total\{[^}]*code=~"5\.\."'))
    check("alerts: p95 latency over 200 ms from the edge's histogram",
          has(r"histogram_quantile\(\s*0\.95\s*,.*warden_edge_request_duration_seconds_bucket.*>\s*0\.2\b"))
    check("alerts: outbox age", has(r"warden_outbox_oldest_pending_seconds.*>"))
    check("alerts: replica lag", has(r"cnpg_pg_replication_lag.*>"))


def check_common(objs, ns):
    namespaced = [o for o in objs if o["kind"] not in ("Namespace", "StorageClass")]
    if ns:
        wrong = [f"{o['kind']}/{o['metadata']['name']}" for o in namespaced
                 if o["metadata"].get("namespace") != ns]
        check(f"every namespaced object is in {ns}", not wrong, str(wrong))
        check(f"Namespace {ns} is part of the overlay",
              any(o["metadata"]["name"] == ns for o in find(objs, "Namespace")))
        nso = find(objs, "Namespace", ns)
        check(f"Namespace {ns}: Pod Security enforced",
              nso and nso[0]["metadata"].get("labels", {}).get(
                  "pod-security.kubernetes.io/enforce") in ("baseline", "restricted"))
    check("no Secret object in the manifests (secrets are made out of band)",
          not find(objs, "Secret"))
    text = json.dumps(objs)
    creds = re.findall(r"[a-z]+://[^/\s\"@:]*:[^/\s\"@]+@", text)
    check("no credentials in any URL", not creds, str(creds))
    images = []
    for o in objs:
        for node in re.findall(r'"image": "([^"]+)"', json.dumps(o)):
            images.append(node)
    untagged = [i for i in images if not re.search(r":[\w.-]+$|@sha256:", i) or i.endswith(":latest")]
    check("every image has a tag other than latest", not untagged, str(untagged))


def check_cluster(objs, namespaces):
    sc = one(objs, "StorageClass", "warden-gp3")
    if sc:
        p = sc.get("parameters", {})
        check("StorageClass: gp3 from the EBS CSI driver, encrypted with a KMS key",
              sc.get("provisioner") == "ebs.csi.aws.com" and p.get("type") == "gp3"
              and p.get("encrypted") == "true" and p.get("kmsKeyId", "").startswith("arn:aws:kms:"))
        check("StorageClass: volumes made in their pod's zone (WaitForFirstConsumer)",
              sc.get("volumeBindingMode") == "WaitForFirstConsumer")
    ds = one(objs, "DaemonSet", "fluent-bit")
    cm = one(objs, "ConfigMap", "fluent-bit")
    if ds and cm:
        pod = ds["spec"]["template"]["spec"]
        resources_set("fluent-bit", pod["containers"])
        for c in pod["containers"]:
            csc = c.get("securityContext", {})
            check("fluent-bit: read-only root, no privilege escalation, no capability",
                  csc.get("readOnlyRootFilesystem") is True
                  and csc.get("allowPrivilegeEscalation") is False
                  and "ALL" in (dig(csc, "capabilities", "drop") or []))
            env = {e["name"]: e for e in c.get("env", [])}
            check("fluent-bit: Elasticsearch credentials from a Secret",
                  all(dig(env, n, "valueFrom", "secretKeyRef", "name")
                      for n in ("ELASTICSEARCH_USER", "ELASTICSEARCH_PASSWORD")))
        conf = cm["data"]["fluent-bit.conf"]
        paths = re.search(r"^\s*Path\s+(\S+)", conf, re.M)
        paths = paths.group(1).split(",") if paths else []
        for ns in namespaces:
            check(f"fluent-bit: tails the logs of namespace {ns}",
                  f"/var/log/containers/*_{ns}_*.log" in paths, str(paths))
        check("fluent-bit: JSON lines parsed into fields",
              re.search(r"Key_Name\s+log\s*\n\s*Parser\s+json_line", conf)
              and re.search(r"Name\s+json_line\s*\n\s*Format\s+json", cm["data"]["parsers.conf"]))
        check("fluent-bit: shipped to Elasticsearch over verified TLS",
              re.search(r"^\s*Name\s+es$", conf, re.M) and re.search(r"^\s*tls\s+On$", conf, re.M)
              and re.search(r"^\s*tls.verify\s+On$", conf, re.M))
    check("no Secret object in the manifests (secrets are made out of band)",
          not find(objs, "Secret"))


def main():
    if len(sys.argv) != 4:
        print("usage: k8s_policy.py ROOT OBJECTS.json NAMESPACE", file=sys.stderr)
        return 2
    root, path, ns = sys.argv[1:]
    objs = json.load(open(path, encoding="utf-8"))
    if ns == "@cluster":
        namespaces = []
        for env in ("staging", "production"):
            with open(f"{root}/k8s/overlays/{env}/kustomization.yaml", encoding="utf-8") as f:
                m = re.search(r"^namespace: (\S+)$", f.read(), re.M)
            namespaces.append(m.group(1) if m else f"<{env} has no namespace>")
        check_cluster(objs, namespaces)
        return report()
    settings = edge_settings(root)
    metrics = edge_metrics(root)
    check("edge/config.c read: its settings table", len(settings) > 20, str(len(settings)))
    check("edge/metrics.c read: its metric names", len(metrics) > 20, str(len(metrics)))
    check_common(objs, ns)
    check_edge(objs, settings)
    check_postgres(objs)
    check_rabbitmq(objs)
    check_redis(objs)
    check_network(objs, ns)
    check_monitoring(objs, metrics)
    return report()


if __name__ == "__main__":
    sys.exit(main())
