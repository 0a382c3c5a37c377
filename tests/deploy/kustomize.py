#!/usr/bin/python3
"""
tests/deploy/kustomize.py: builds a kustomization offline, kustomize-style.

Implements the kustomize features k8s/ uses, as kustomize v5 does them, and
refuses every other field, so a kustomization that starts to rely on
something this file does not do fails loudly instead of building wrong:

  resources        files (several documents each) and directories holding a
                   kustomization.yaml, built first, in order
  patches          inline JSON 6902 patches (add, remove, replace, test) with
                   a target (kind, name; group, version, namespace optional)
  namespace        set on every namespaced object (kinds not known to be
                   cluster-scoped are namespaced, as in kustomize)
  labels           pairs added to metadata.labels (includeSelectors false)
  images           name -> newName / newTag / digest, on the image of every
                   container and init container, and on the paths that
                   `configurations` files add (inherited from bases)
  replacements     a field of a source object copied into target fields,
                   whole or one part of a delimited string
  local-config     objects annotated config.kubernetes.io/local-config are
                   left out of the output

Usage: kustomize.py DIR > objects.json (a JSON list, in build order). On an
error it prints "kustomize: ..." on stderr and exits 1.
"""
import copy
import json
import os
import sys

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KNOWN_FIELDS = {"apiVersion", "kind", "resources", "patches", "namespace",
                "labels", "images", "replacements", "configurations"}

# Kinds kustomize knows to be cluster-scoped (from the Kubernetes API); any
# other kind, custom resources included, is namespaced.
CLUSTER_SCOPED = {
    "APIService", "CertificateSigningRequest", "ClusterRole",
    "ClusterRoleBinding", "ComponentStatus", "CSIDriver", "CSINode",
    "CustomResourceDefinition", "FlowSchema", "IngressClass",
    "MutatingWebhookConfiguration", "Namespace", "Node",
    "PersistentVolume", "PriorityClass", "PriorityLevelConfiguration",
    "RuntimeClass", "SelfSubjectAccessReview", "SelfSubjectRulesReview",
    "StorageClass", "SubjectAccessReview", "TokenReview",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration", "VolumeAttachment",
}

LOCAL_CONFIG = "config.kubernetes.io/local-config"


class KustomizeError(Exception):
    pass


def fail(msg):
    raise KustomizeError(msg)


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        try:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            fail(f"{path}: not YAML: {e}")
    for d in docs:
        if not isinstance(d, dict) or "apiVersion" not in d or "kind" not in d:
            fail(f"{path}: a document without apiVersion and kind")
        if not isinstance(d.get("metadata"), dict) or not d["metadata"].get("name"):
            fail(f"{path}: {d.get('kind')} without metadata.name")
    return docs


def kustomization_file(directory):
    for name in KUSTOMIZATION_FILES:
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    fail(f"{directory}: no kustomization.yaml")


def inside(root, path):
    """kustomize's load restrictor: files only from under the root."""
    root = os.path.realpath(root)
    path = os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)


# --- field paths --------------------------------------------------------------

def split_field_path(text):
    """a.b.[c.d/e].0 -> ["a", "b", "c.d/e", "0"]: brackets keep dots."""
    parts = []
    cur = ""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "[":
            end = text.find("]", i)
            if end < 0:
                fail(f"unclosed [ in field path {text!r}")
            cur += text[i + 1:end]
            i = end + 1
            continue
        if c == ".":
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    if any(p == "" for p in parts):
        fail(f"empty segment in field path {text!r}")
    return parts


def get_path(obj, parts):
    node = obj
    for p in parts:
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                return None
            node = node[int(p)]
        elif isinstance(node, dict):
            if p not in node:
                return None
            node = node[p]
        else:
            return None
    return node


def set_path(obj, parts, value, create):
    node = obj
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                fail(f"no index {p} in a list of {len(node)}")
            if last:
                node[int(p)] = value
                return True
            node = node[int(p)]
        elif isinstance(node, dict):
            if last:
                if p not in node and not create:
                    return False
                node[p] = value
                return True
            if p not in node:
                if not create:
                    return False
                node[p] = {}
            node = node[p]
        else:
            fail(f"cannot descend into a scalar at {p!r}")
    return False


# --- JSON 6902 -------------------------------------------------------------------

def pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        fail(f"JSON pointer must start with /: {path!r}")
    return [s.replace("~1", "/").replace("~0", "~") for s in path[1:].split("/")]


def json_patch(obj, ops, where):
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            fail(f"{where}: a patch operation needs op and path")
        kind = op["op"]
        parts = pointer(op["path"])
        if not parts:
            fail(f"{where}: patching the whole object is not supported")
        parent = get_path(obj, parts[:-1])
        key = parts[-1]
        if parent is None or not isinstance(parent, (dict, list)):
            fail(f"{where}: {kind} {op['path']}: no such parent")
        if kind == "test":
            if get_path(obj, parts) != op.get("value"):
                fail(f"{where}: test {op['path']} failed: "
                     f"{get_path(obj, parts)!r} != {op.get('value')!r}")
        elif kind == "replace":
            if get_path(obj, parts) is None and not (
                    isinstance(parent, dict) and key in parent):
                fail(f"{where}: replace {op['path']}: no such field")
            set_path(obj, parts, copy.deepcopy(op["value"]), False)
        elif kind == "add":
            value = copy.deepcopy(op["value"])
            if isinstance(parent, list):
                if key == "-":
                    parent.append(value)
                elif key.isdigit() and int(key) <= len(parent):
                    parent.insert(int(key), value)
                else:
                    fail(f"{where}: add {op['path']}: bad index")
            else:
                parent[key] = value
        elif kind == "remove":
            if isinstance(parent, list):
                if not key.isdigit() or int(key) >= len(parent):
                    fail(f"{where}: remove {op['path']}: no such index")
                del parent[int(key)]
            else:
                if key not in parent:
                    fail(f"{where}: remove {op['path']}: no such field")
                del parent[key]
        else:
            fail(f"{where}: patch op {kind!r} is not supported")


# --- selection -----------------------------------------------------------------

def group_version(obj):
    api = obj["apiVersion"]
    return tuple(api.split("/", 1)) if "/" in api else ("", api)


def selects(sel, obj, where):
    unknown = set(sel) - {"kind", "name", "group", "version", "namespace"}
    if unknown:
        fail(f"{where}: target fields {sorted(unknown)} are not supported")
    group, version = group_version(obj)
    meta = obj["metadata"]
    return all([
        sel.get("kind", obj["kind"]) == obj["kind"],
        sel.get("name", meta["name"]) == meta["name"],
        sel.get("group", group) == group,
        sel.get("version", version) == version,
        sel.get("namespace", meta.get("namespace")) == meta.get("namespace"),
    ])


# --- transformers -----------------------------------------------------------------

def apply_patches(objs, patches, where):
    for i, p in enumerate(patches):
        w = f"{where}: patches[{i}]"
        if set(p) - {"target", "patch"} or "target" not in p or "patch" not in p:
            fail(f"{w}: only inline patches with a target are supported")
        ops = yaml.safe_load(p["patch"])
        if not isinstance(ops, list):
            fail(f"{w}: only JSON 6902 patches (a list of operations) are supported")
        hits = [o for o in objs if selects(p["target"], o, w)]
        if not hits:
            fail(f"{w}: the target matches no object")
        for o in hits:
            json_patch(o, ops, w)


def apply_namespace(objs, namespace):
    for o in objs:
        if o["kind"] in CLUSTER_SCOPED:
            continue
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            fail("namespaces of RoleBinding subjects are not supported")
        o["metadata"]["namespace"] = namespace


def apply_labels(objs, labels, where):
    for entry in labels:
        if set(entry) - {"pairs", "includeSelectors"}:
            fail(f"{where}: labels: only pairs and includeSelectors are supported")
        if entry.get("includeSelectors", False):
            fail(f"{where}: labels: includeSelectors true is not supported")
        for o in objs:
            o["metadata"].setdefault("labels", {}).update(entry["pairs"])


def parse_image(ref):
    """name[:tag][@digest] -> (name, tag, digest); a port is not a tag."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
    return ref, tag, digest


def new_image(ref, rule):
    name, tag, digest = parse_image(ref)
    name = rule.get("newName", name)
    if "digest" in rule:
        return f"{name}@{rule['digest']}"
    if "newTag" in rule:
        return f"{name}:{rule['newTag']}"
    if digest:
        return f"{name}@{digest}"
    return f"{name}:{tag}" if tag else name


def image_fields(obj, extra_specs):
    """(container-or-parent dict, key) of every image field to consider."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("containers", "initContainers") and isinstance(v, list):
                    for c in v:
                        if isinstance(c, dict) and isinstance(c.get("image"), str):
                            found.append((c, "image"))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(obj)
    for spec in extra_specs:
        if spec.get("kind", obj["kind"]) != obj["kind"]:
            continue
        nodes = [obj]
        parts = spec["path"].split("/")
        for p in parts[:-1]:
            nxt = []
            for n in nodes:
                v = n.get(p) if isinstance(n, dict) else None
                if isinstance(v, list):
                    nxt.extend(x for x in v if isinstance(x, dict))
                elif isinstance(v, dict):
                    nxt.append(v)
            nodes = nxt
        for n in nodes:
            if isinstance(n.get(parts[-1]), str):
                found.append((n, parts[-1]))
    return found


def apply_images(objs, images, specs, where):
    for rule in images:
        if set(rule) - {"name", "newName", "newTag", "digest"} or "name" not in rule:
            fail(f"{where}: images: only name, newName, newTag and digest are supported")
    for o in objs:
        for node, key in image_fields(o, specs):
            name = parse_image(node[key])[0]
            for rule in images:
                if rule["name"] == name:
                    node[key] = new_image(node[key], rule)
                    break


def apply_replacements(objs, replacements, where):
    for i, r in enumerate(replacements):
        w = f"{where}: replacements[{i}]"
        if set(r) - {"source", "targets"}:
            fail(f"{w}: only source and targets are supported")
        src = r["source"]
        if set(src) - {"kind", "name", "fieldPath", "group", "version", "namespace"}:
            fail(f"{w}: source: unsupported fields")
        sel = {k: v for k, v in src.items() if k != "fieldPath"}
        sources = [o for o in objs if selects(sel, o, w)]
        if len(sources) != 1:
            fail(f"{w}: the source matches {len(sources)} objects, not 1")
        value = get_path(sources[0], split_field_path(src.get("fieldPath", "metadata.name")))
        if value is None:
            fail(f"{w}: the source has no {src.get('fieldPath')}")
        for t in r["targets"]:
            if set(t) - {"select", "fieldPaths", "options"}:
                fail(f"{w}: targets: only select, fieldPaths and options are supported")
            opts = t.get("options", {})
            if set(opts) - {"delimiter", "index", "create"}:
                fail(f"{w}: options: only delimiter, index and create are supported")
            hits = [o for o in objs if selects(t["select"], o, w)]
            if not hits:
                fail(f"{w}: a target matches no object")
            for o in hits:
                for fp in t["fieldPaths"]:
                    parts = split_field_path(fp)
                    new = value
                    if "delimiter" in opts:
                        old = get_path(o, parts)
                        if not isinstance(old, str):
                            fail(f"{w}: {fp} is not a string to split")
                        pieces = old.split(opts["delimiter"])
                        idx = opts.get("index", 0)
                        if not 0 <= idx < len(pieces):
                            fail(f"{w}: {fp} has no part {idx}")
                        pieces[idx] = str(value)
                        new = opts["delimiter"].join(pieces)
                    if not set_path(o, parts, copy.deepcopy(new), opts.get("create", False)):
                        fail(f"{w}: {o['kind']}/{o['metadata']['name']} has no {fp}")


# --- the build -------------------------------------------------------------------

def build(directory, root=None):
    """Returns (objects, image field specs) of the kustomization in directory."""
    root = root or directory
    path = kustomization_file(directory)
    with open(path, encoding="utf-8") as f:
        k = yaml.safe_load(f) or {}
    unknown = set(k) - KNOWN_FIELDS
    if unknown:
        fail(f"{path}: fields not supported here: {sorted(unknown)}")
    if k.get("kind", "Kustomization") != "Kustomization":
        fail(f"{path}: kind must be Kustomization")

    objs = []
    specs = []
    for c in k.get("configurations", []):
        cp = os.path.join(directory, c)
        if not inside(directory, cp):
            fail(f"{path}: {c} is outside the kustomization")
        with open(cp, encoding="utf-8") as f:
            conf = yaml.safe_load(f) or {}
        if set(conf) - {"images"}:
            fail(f"{cp}: only images field specs are supported")
        specs.extend(conf.get("images", []))
    for res in k.get("resources", []):
        rp = os.path.normpath(os.path.join(directory, res))
        if os.path.isdir(rp):
            sub, sub_specs = build(rp, root)
            objs.extend(sub)
            specs.extend(sub_specs)
        elif os.path.isfile(rp):
            if not inside(directory, rp):
                fail(f"{path}: {res} is outside the kustomization")
            objs.extend(load_yaml_docs(rp))
        else:
            fail(f"{path}: no such resource {res}")

    seen = set()
    for o in objs:
        ident = (o["apiVersion"].split("/")[0], o["kind"],
                 o["metadata"].get("namespace"), o["metadata"]["name"])
        if ident in seen:
            fail(f"{path}: {o['kind']}/{o['metadata']['name']} defined twice")
        seen.add(ident)

    apply_patches(objs, k.get("patches", []), path)
    if "namespace" in k:
        apply_namespace(objs, k["namespace"])
    apply_labels(objs, k.get("labels", []), path)
    apply_images(objs, k.get("images", []), specs, path)
    apply_replacements(objs, k.get("replacements", []), path)
    return objs, specs


def main():
    if len(sys.argv) != 2:
        print("usage: kustomize.py DIR", file=sys.stderr)
        return 2
    try:
        objs, _ = build(sys.argv[1])
    except (KustomizeError, OSError) as e:
        print(f"kustomize: {e}", file=sys.stderr)
        return 1
    out = [o for o in objs
           if o["metadata"].get("annotations", {}).get(LOCAL_CONFIG) != "true"]
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
