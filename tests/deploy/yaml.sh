#!/usr/bin/env bash
# tests/deploy/yaml.sh: every YAML file of the repository (*.yml, *.yaml,
# and .yamllint itself; build/, .run/, node_modules/ and .git/ left out)
# parses, every document of it (PyYAML, as kubectl and compose read them),
# and passes yamllint with the repository's .yamllint. Broken copies (a
# duplicate key, bad indentation, trailing blanks, a file that does not
# parse) must be refused.
. "$WARDEN_ROOT/tests/lib.sh"

R=$WARDEN_ROOT
PY=/usr/bin/python3
T=$WARDEN_TEST_TMP/deploy-yaml
rm -rf "$T"
mkdir -p "$T"

# parses FILE...: every document of every file through PyYAML's safe loader
parses() {
  "$PY" -c 'import sys, yaml
bad = 0
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            list(yaml.safe_load_all(f))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        print(f"{path}: {e}")
        bad += 1
sys.exit(1 if bad else 0)' "$@"
}

lint() { yamllint -c "$R/.yamllint" -f parsable "$@"; }
# a broken copy goes through stdin: .yamllint's ignore list (build/) would
# skip the file itself when the scratch directory is under build/, as it is
# in make test
lint_copy() { yamllint -c "$R/.yamllint" -f parsable - <"$1"; }

. "$WARDEN_ROOT/tests/deploy/checks.bash"

mapfile -t files < <(cd "$R" && find . \( -path ./build -o -path ./.run -o -path ./.git -o -name node_modules \) -prune -o \
  -type f \( -name '*.yml' -o -name '*.yaml' -o -path ./.yamllint \) -print | sed 's|^\./||' | sort)
t_check "yamllint is installed (scripts/deps)" command -v yamllint
t_check "YAML files found (docker/, .github/, k8s/ ...)" test "${#files[@]}" -ge 8
printf '%s\n' "${files[@]}" | sed 's/^/# /'

cd "$R" || exit 1
t_check "every document of every YAML file parses (${#files[@]} files)" parses "${files[@]}"
t_check "every YAML file passes yamllint with .yamllint" lint "${files[@]}"

# broken copies, outside the repository's tree of YAML files
printf 'services:\n  a:\n    image: x\n  a:\n    image: y\n' >"$T/duplicate.yaml"
rejects "yamllint refuses a duplicate key" "key-duplicates" lint_copy "$T/duplicate.yaml"
printf 'jobs:\n  a:\n     runs-on: x\n     steps:\n       - run: true\n' >"$T/indent.yaml"
rejects "yamllint refuses odd indentation" "indentation" lint_copy "$T/indent.yaml"
printf 'name: x  \non:\n  push:\n' >"$T/trailing.yml"
rejects "yamllint refuses trailing spaces" "trailing-spaces" lint_copy "$T/trailing.yml"
printf 'a: [1, 2\nb: 3\n' >"$T/unclosed.yaml"
rejects "a file that does not parse is refused" "unclosed.yaml: while parsing" parses "$T/unclosed.yaml"
printf 'a: 1\n---\nb: [\n' >"$T/second.yaml"
rejects "a broken second document is refused too" "second.yaml:" parses "$T/second.yaml"

t_done
