"""tests/deploy/policy.py: what the policy tests (k8s_policy.py,
tf_policy.py) share: each fact checked is recorded with check(), and
report() prints every one, PASS or FAIL with why, and gives the exit
status (1 when any failed)."""

RESULTS = []


def check(name, ok, why=""):
    RESULTS.append((name, bool(ok), why))
    return bool(ok)


def report():
    failed = 0
    for name, ok, why in RESULTS:
        if ok:
            print(f"PASS {name}")
        else:
            failed += 1
            print(f"FAIL {name}: {why}")
    return 1 if failed else 0
