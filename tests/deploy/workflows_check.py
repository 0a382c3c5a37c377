#!/usr/bin/python3
"""tests/deploy/workflows_check.py: the structure of .github/workflows/,
run by workflows.sh after actionlint and action-validator (which check the
GitHub Actions syntax, expressions and the inputs of known actions).

What this adds is what the project needs the workflows to do:
  ci.yml       runs the project's test command (make test through .ci/run),
               and the compose job builds and smoke-tests docker/compose.yaml
  deploy.yml   ci, then both images built and pushed to ECR (warden-edge,
               warden-postgres) by commit, then rollout.yml for staging and,
               after it, production; AWS reached through OIDC with a role
               from a repository variable; no secret anywhere
  rollout.yml  the steps in order: AWS credentials, cluster, kustomize edit
               set image warden/edge and warden/postgres in the overlay,
               apply, kubectl rollout status deployment/warden-edge, the
               smoke test (scripts/smoke: /healthz, /readyz,
               /.well-known/jwks.json), and a rollback (kubectl rollout undo
               deployment/warden-edge) when one of them failed
Local reusable workflows are followed: every input passed must exist and
every required one must be passed. Kustomize overlays are checked to exist
(with their namespace) only once k8s/ does.
Exits 0 when all holds, 1 with one line per problem.
"""

import argparse
import glob
import os
import re
import sys

import yaml

ROOT = os.environ.get("WARDEN_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)
    return cond


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    # YAML 1.1 reads the key "on" as true
    if isinstance(doc, dict) and True in doc and "on" not in doc:
        doc["on"] = doc.pop(True)
    return doc


def triggers(doc):
    on = doc.get("on")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {k: None for k in on}
    return on or {}


def steps(job):
    return job.get("steps") or []


def runs(job):
    return [s.get("run", "") for s in steps(job)]


def step_index(job, pred):
    for i, s in enumerate(steps(job)):
        if pred(s):
            return i
    return -1


def needs(job):
    n = job.get("needs") or []
    return [n] if isinstance(n, str) else n


def uses_action(step, name):
    return str(step.get("uses", "")).split("@")[0] == name


def text_of(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_ci(path):
    name = os.path.basename(path)
    doc = load(path)
    on = triggers(doc)
    check("pull_request" in on, f"{name}: does not run on pull requests")
    check("push" in on, f"{name}: does not run on pushes")
    check("workflow_call" in on, f"{name}: cannot be called by deploy.yml (no workflow_call)")
    jobs = doc.get("jobs") or {}
    test_jobs = [j for j, job in jobs.items()
                 if any(re.search(r"(^|\s)(bash\s+)?\.ci/run\b|(^|\s)make\s+test\b", r) for r in runs(job))]
    if check(test_jobs, f"{name}: no job runs the project's test command (bash .ci/run or make test)"):
        job = jobs[test_jobs[0]]
        check(step_index(job, lambda s: uses_action(s, "actions/checkout")) >= 0,
              f"{name}: job {test_jobs[0]} does not check the repository out")
        img = str((job.get("container") or {}).get("image", "")) if isinstance(job.get("container"), dict) \
            else str(job.get("container") or "")
        check(re.match(r"(debian:12|debian:bookworm)", img) or re.match(r"(ubuntu|debian)", str(job.get("runs-on"))),
              f"{name}: job {test_jobs[0]} runs neither on Debian 12 nor on an Ubuntu/Debian runner")
    ci_run = os.path.join(ROOT, ".ci/run")
    check(os.path.exists(ci_run) and re.search(r"^\s*(exec\s+)?make test\b", text_of(ci_run), re.M),
          ".ci/run does not run make test")
    compose_jobs = [j for j, job in jobs.items() if any("docker compose" in r for r in runs(job))]
    if check(compose_jobs, f"{name}: no job starts docker/compose.yaml"):
        job = jobs[compose_jobs[0]]
        text = yaml.safe_dump(job)
        check("docker/compose.yaml" in text, f"{name}: job {compose_jobs[0]} does not use docker/compose.yaml")
        check(any("scripts/smoke" in r for r in runs(job)),
              f"{name}: job {compose_jobs[0]} does not smoke-test the system it started")
        check(any("--build" in r for r in runs(job)), f"{name}: job {compose_jobs[0]} does not build the images")


def check_no_secrets(path):
    name = os.path.basename(path)
    text = text_of(path)
    check("secrets." not in text, f"{name}: uses a GitHub secret; AWS is reached through OIDC, nothing else is secret")
    check(not re.search(r"aws-(access-key-id|secret-access-key)|AWS_SECRET_ACCESS_KEY|AKIA[0-9A-Z]{16}", text),
          f"{name}: AWS access keys instead of the OIDC role")


def check_aws_step(name, job, where):
    i = step_index(job, lambda s: uses_action(s, "aws-actions/configure-aws-credentials"))
    if check(i >= 0, f"{name}: {where} does not get AWS credentials (aws-actions/configure-aws-credentials)"):
        w = steps(job)[i].get("with") or {}
        check(re.fullmatch(r"\$\{\{\s*vars\.[A-Z0-9_]+\s*\}\}", str(w.get("role-to-assume", ""))),
              f"{name}: {where}: role-to-assume is not a repository variable (vars.*)")
        check("us-east-1" in str(w.get("aws-region", "")), f"{name}: {where}: the region is not us-east-1")
    return i


def check_deploy(path, rollout_path):
    name = os.path.basename(path)
    doc = load(path)
    check_no_secrets(path)
    on = triggers(doc)
    push = on.get("push") or {}
    check("main" in (push.get("branches") or []), f"{name}: does not deploy pushes to main")
    top = doc.get("permissions") or {}
    check(top.get("id-token") != "write", f"{name}: id-token: write for every job; give it only to those that need AWS")
    jobs = doc.get("jobs") or {}
    for j in ("ci", "images", "staging", "production"):
        check(j in jobs, f"{name}: no job {j}")
    if problems:
        return
    check(str(jobs["ci"].get("uses", "")) == "./.github/workflows/ci.yml", f"{name}: job ci does not call ci.yml")
    check("ci" in needs(jobs["images"]), f"{name}: images are built without waiting for ci")
    check("images" in needs(jobs["staging"]), f"{name}: staging does not wait for the images")
    check("staging" in needs(jobs["production"]), f"{name}: production does not wait for staging")

    images = jobs["images"]
    check((images.get("permissions") or {}).get("id-token") == "write",
          f"{name}: images has no id-token: write (OIDC)")
    check_aws_step(name, images, "images")
    check(step_index(images, lambda s: uses_action(s, "aws-actions/amazon-ecr-login")) >= 0,
          f"{name}: images does not log in to ECR")
    builds = [s for s in steps(images) if uses_action(s, "docker/build-push-action")]
    files = {}
    for s in builds:
        w = s.get("with") or {}
        files[str(w.get("file", ""))] = w
    for df, repo in (("docker/edge/Dockerfile", "warden-edge"), ("docker/postgres/Dockerfile", "warden-postgres")):
        w = files.get(df)
        if check(w, f"{name}: images does not build {df}"):
            check(os.path.exists(os.path.join(ROOT, df)), f"{name}: {df} does not exist")
            check(str(w.get("push")).lower() == "true", f"{name}: {df} is built but not pushed")
            check(str(w.get("context", ".")) == ".", f"{name}: {df} is not built from the repository root (.dockerignore)")
            check(re.search(r"/" + repo + r":\$\{\{\s*github\.sha\s*\}\}", str(w.get("tags", ""))),
                  f"{name}: {df} is not tagged <registry>/{repo}:<commit>")

    rollout = load(rollout_path)
    inputs = ((triggers(rollout).get("workflow_call") or {}).get("inputs")) or {}
    for env, ns in (("staging", "warden-staging"), ("production", "warden")):
        job = jobs[env]
        where = f"job {env}"
        if not check(str(job.get("uses", "")) == "./.github/workflows/" + os.path.basename(rollout_path),
                     f"{name}: {where} does not call {os.path.basename(rollout_path)}"):
            continue
        check((job.get("permissions") or {}).get("id-token") == "write", f"{name}: {where} has no id-token: write")
        w = job.get("with") or {}
        for k in w:
            check(k in inputs, f"{name}: {where} passes {k}, which rollout.yml does not take")
        for k, spec in inputs.items():
            if (spec or {}).get("required"):
                check(k in w, f"{name}: {where} does not pass the required input {k}")
        check(w.get("environment") == env, f"{name}: {where} deploys to GitHub environment {w.get('environment')!r}")
        overlay = f"k8s/overlays/{env}"
        check(w.get("overlay") == overlay, f"{name}: {where} applies {w.get('overlay')!r}, not {overlay}")
        check(w.get("namespace") == ns, f"{name}: {where} watches namespace {w.get('namespace')!r}, not {ns}")
        check(re.fullmatch(r"\$\{\{\s*vars\.[A-Z0-9_]+\s*\}\}", str(w.get("host", ""))),
              f"{name}: {where}: the host is not a repository variable")
        check(re.fullmatch(r"\$\{\{\s*github\.sha\s*\}\}", str(w.get("tag", ""))),
              f"{name}: {where} does not deploy the images of this commit")
        # the overlay, once the k8s/ tree exists
        if os.path.isdir(os.path.join(ROOT, "k8s")):
            kz = [os.path.join(ROOT, overlay, f) for f in ("kustomization.yaml", "kustomization.yml", "Kustomization")]
            kz = [f for f in kz if os.path.exists(f)]
            if check(kz, f"{name}: {where}: {overlay} has no kustomization.yaml"):
                k = load(kz[0]) or {}
                check(k.get("namespace") == ns, f"{overlay}: namespace {k.get('namespace')!r}, not {ns}")


def check_rollout(path):
    name = os.path.basename(path)
    doc = load(path)
    check_no_secrets(path)
    check("workflow_call" in triggers(doc), f"{name}: is not a reusable workflow (workflow_call)")
    jobs = doc.get("jobs") or {}
    if not check(len(jobs) == 1, f"{name}: {len(jobs)} jobs, one expected"):
        return
    job = next(iter(jobs.values()))
    env = job.get("environment")
    env_name = env.get("name") if isinstance(env, dict) else env
    check(re.fullmatch(r"\$\{\{\s*inputs\.environment\s*\}\}", str(env_name or "")),
          f"{name}: the job does not run in the GitHub environment it deploys to (approvals, variables)")
    top = doc.get("permissions") or {}
    check(top.get("id-token") == "write" or (job.get("permissions") or {}).get("id-token") == "write",
          f"{name}: no id-token: write (OIDC)")
    aws = check_aws_step(name, job, "rollout")
    st = steps(job)

    def find(what, rx):
        i = step_index(job, lambda s: re.search(rx, s.get("run", ""), re.M | re.S) is not None)
        check(i >= 0, f"{name}: no step {what}")
        return i

    kube = find("gets the cluster's kubeconfig (aws eks update-kubeconfig)", r"aws eks update-kubeconfig")
    edit = find("sets the image tags (kustomize edit set image warden/edge=... warden/postgres=...)",
                r"kustomize edit set image\b.*\bwarden/edge=.*\bwarden/postgres=")
    if edit >= 0:
        run = st[edit].get("run", "")
        for repo in ("warden-edge", "warden-postgres"):
            check(re.search(r"\b" + repo + r"\b", run), f"{name}: the image tags do not come from the ECR repository {repo}")
        check(re.search(r"cd\s+\"?\$OVERLAY|working-directory", run + str(st[edit].get("working-directory", ""))),
              f"{name}: kustomize edit does not run in the overlay")
    # every value of the overlays' environment.yaml is written from the
    # GitHub environment before kustomize builds (the files hold placeholders)
    envfill = find("writes the overlay's environment.yaml", r"\$OVERLAY/environment\.yaml")
    if envfill >= 0:
        run = st[envfill].get("run", "")
        for envfile in glob.glob(os.path.join(ROOT, "k8s/overlays/*/environment.yaml")):
            for d in yaml.safe_load_all(open(envfile)):
                for key in ((d or {}).get("data") or {}):
                    check(re.search(r"^\s*" + re.escape(key) + r":", run, re.M),
                          f"{name}: the environment step does not write {key} ({os.path.relpath(envfile, ROOT)})")
        check(edit < 0 or envfill < edit, f"{name}: environment.yaml is written after kustomize builds")
    apply = find("applies the overlay (kubectl apply)", r"kubectl\b.*\bapply\b")
    status = find("waits for the rollout (kubectl rollout status deployment/warden-edge --timeout=...)",
                  r"kubectl\b.*\brollout status deployment/warden-edge\b.*--timeout=")
    smoke = find("runs the smoke test (scripts/smoke https://...)", r"scripts/smoke\s+\"?https://")
    rollback = find("rolls back (kubectl rollout undo deployment/warden-edge)",
                    r"kubectl\b.*\brollout undo deployment/warden-edge\b")
    order = [("AWS credentials", aws), ("kubeconfig", kube), ("kustomize edit", edit), ("apply", apply),
             ("rollout status", status), ("smoke test", smoke), ("rollback", rollback)]
    for (a, i), (b, k) in zip(order, order[1:]):
        if i >= 0 and k >= 0:
            check(i < k, f"{name}: step {b} comes before {a}")
    if rollback >= 0:
        cond = str(st[rollback].get("if", ""))
        check("failure()" in cond, f"{name}: the rollback does not run when a step failed (if: failure())")
        check("always()" not in cond, f"{name}: the rollback would also run after a successful rollout")
        check(not re.search(r"\|\|\s*true", st[rollback].get("run", "")),
              f"{name}: a failing rollback is ignored")
    for i in (status, smoke):
        if i >= 0:
            check(not st[i].get("continue-on-error"), f"{name}: step {st[i].get('name')!r} may fail without failing the job")
    smoke_script = os.path.join(ROOT, "scripts/smoke")
    if check(os.access(smoke_script, os.X_OK), "scripts/smoke is missing or not executable"):
        text = text_of(smoke_script)
        for p in ("/healthz", "/readyz", "/.well-known/jwks.json"):
            check(p in text, f"scripts/smoke does not check {p}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ci", default=os.path.join(ROOT, ".github/workflows/ci.yml"))
    ap.add_argument("--deploy", default=os.path.join(ROOT, ".github/workflows/deploy.yml"))
    ap.add_argument("--rollout", default=os.path.join(ROOT, ".github/workflows/rollout.yml"))
    ap.add_argument("part", choices=["ci", "deploy", "rollout"])
    args = ap.parse_args()
    try:
        if args.part == "ci":
            check_ci(args.ci)
        elif args.part == "deploy":
            check_deploy(args.deploy, args.rollout)
        else:
            check_rollout(args.rollout)
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as e:
        problems.append(f"cannot read the workflow: {e}")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
