"""Checks the kustomizations under a folder (deploy/k8s) without kustomize.

Run by `cargo xtask deploy-check` (with PyYAML on PYTHONPATH) as

    python3 deploy/k8s/check-kustomizations.py deploy/k8s

For every kustomization.yaml: it parses as YAML; it is a Kustomization with
only known fields; every file or folder it names exists (no remote bases);
its `images`, `replicas` and patch targets name something that its resources
define. For the resources it loads: each carries the app.kubernetes.io/name
and app.kubernetes.io/part-of=complaints labels (pod templates too); every
Service and PodDisruptionBudget selects a pod template; every
HorizontalPodAutoscaler scales a Deployment that does not also fix its own
`replicas`. In a folder with a kustomization, every other manifest must be
listed, except examples (*.example.yaml), which must not be.

Prints one line per problem and exits 1 if there is any.
"""

import os
import sys

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# The fields of kustomize.config.k8s.io/v1beta1 Kustomization (kustomize v5).
KNOWN_FIELDS = {
    "apiVersion", "kind", "metadata", "resources", "components", "bases",
    "namespace", "namePrefix", "nameSuffix", "commonLabels", "labels",
    "commonAnnotations", "patches", "patchesStrategicMerge", "patchesJson6902",
    "images", "replicas", "configMapGenerator", "secretGenerator",
    "generatorOptions", "configurations", "crds", "generators",
    "transformers", "validators", "openapi", "vars", "replacements",
    "buildMetadata", "helmCharts", "helmGlobals", "sortOptions",
}

PART_OF = "complaints"
WORKLOADS_WITH_PODS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}

problems = []


def problem(where, message):
    problems.append("%s: %s" % (where, message))


def is_remote(entry):
    return "://" in entry or entry.startswith(("github.com/", "git@"))


def kustomization_in(folder):
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def load_documents(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        problem(path, "does not parse as YAML: %s" % e)
        return []


def check_kustomization(path, seen):
    """Checks one kustomization; returns the resources it loads (as dicts)."""
    path = os.path.normpath(path)
    if path in seen:
        return seen[path]
    seen[path] = []
    folder = os.path.dirname(path)
    docs = load_documents(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        problem(path, "expected one YAML mapping")
        return []
    k = docs[0]
    if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or k.get("kind") != "Kustomization":
        problem(path, "expected apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization")
    for field in sorted(set(k) - KNOWN_FIELDS):
        problem(path, "unknown field %r" % field)

    loaded = []
    listed_files = set()
    for field in ("resources", "components", "bases"):
        entries = k.get(field) or []
        if not isinstance(entries, list):
            problem(path, "%s must be a list" % field)
            continue
        for entry in entries:
            if not isinstance(entry, str):
                problem(path, "%s entry %r is not a string" % (field, entry))
                continue
            if is_remote(entry):
                problem(path, "%s entry %r is remote: keep every base in the repository" % (field, entry))
                continue
            target = os.path.normpath(os.path.join(folder, entry))
            if os.path.isdir(target):
                inner = kustomization_in(target)
                if inner is None:
                    problem(path, "%s entry %r is a folder without a kustomization.yaml" % (field, entry))
                else:
                    loaded.extend(check_kustomization(inner, seen))
            elif os.path.isfile(target):
                if field != "resources":
                    problem(path, "%s entry %r must be a folder" % (field, entry))
                listed_files.add(target)
                if target.endswith(".example.yaml"):
                    problem(path, "%r is an example and must not be applied" % entry)
                for doc in load_documents(target):
                    if isinstance(doc, dict):
                        loaded.append((target, doc))
                    else:
                        problem(target, "a document is not a mapping")
            else:
                problem(path, "%s entry %r does not exist" % (field, entry))

    # Files named by patches and generators.
    def must_exist(entry, what):
        if not isinstance(entry, str):
            problem(path, "%s %r is not a string" % (what, entry))
            return
        entry = entry.split("=", 1)[-1]
        if not os.path.isfile(os.path.join(folder, entry)):
            problem(path, "%s %r does not exist" % (what, entry))

    for patch in k.get("patches") or []:
        if not isinstance(patch, dict) or ("path" in patch) == ("patch" in patch):
            problem(path, "each patch needs exactly one of path or patch")
            continue
        if "path" in patch:
            must_exist(patch["path"], "patch file")
        target = patch.get("target")
        if target is not None:
            if not isinstance(target, dict):
                problem(path, "a patch target must be a mapping")
            elif "name" in target and not any(
                doc.get("kind") == target.get("kind", doc.get("kind"))
                and (doc.get("metadata") or {}).get("name") == target["name"]
                for _, doc in loaded
            ):
                problem(path, "patch target %s/%s matches no resource" % (target.get("kind", "*"), target["name"]))
    for entry in k.get("patchesStrategicMerge") or []:
        if isinstance(entry, str) and "\n" not in entry:
            must_exist(entry, "patch file")
    for field in ("configMapGenerator", "secretGenerator"):
        for generator in k.get(field) or []:
            for entry in (generator or {}).get("files") or []:
                must_exist(entry, "%s file" % field)
            for entry in (generator or {}).get("envs") or []:
                must_exist(entry, "%s env file" % field)

    images = {
        c.get("image", "").split(":")[0].split("@")[0]
        for _, doc in loaded
        for c in containers_of(doc)
    }
    for image in k.get("images") or []:
        name = (image or {}).get("name")
        if name not in images:
            problem(path, "images entry %r matches no container image (%s)" % (name, ", ".join(sorted(images))))
    for replica in k.get("replicas") or []:
        name = (replica or {}).get("name")
        if not any(
            doc.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet")
            and (doc.get("metadata") or {}).get("name") == name
            for _, doc in loaded
        ):
            problem(path, "replicas entry %r matches no Deployment or StatefulSet" % name)

    # Every manifest beside the kustomization is listed (patches/ aside).
    for name in sorted(os.listdir(folder)):
        full = os.path.normpath(os.path.join(folder, name))
        if (
            name.endswith((".yaml", ".yml"))
            and name not in KUSTOMIZATION_FILES
            and not name.endswith((".example.yaml", ".example.yml"))
            and full not in listed_files
            and os.path.isfile(full)
        ):
            problem(path, "%s is not listed in resources" % name)

    seen[path] = loaded
    return loaded


def pod_template(doc):
    spec = doc.get("spec") or {}
    if doc.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if doc.get("kind") in WORKLOADS_WITH_PODS or doc.get("kind") == "CronJob":
        return spec.get("template") or {}
    return None


def containers_of(doc):
    template = pod_template(doc)
    if template is None:
        return []
    spec = template.get("spec") or {}
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


def check_resources(kustomization, loaded):
    """Checks the labels and cross-references of one kustomization's resources."""
    pods = []
    for source, doc in loaded:
        kind = doc.get("kind", "?")
        meta = doc.get("metadata") or {}
        where = "%s (%s/%s)" % (source, kind, meta.get("name", "?"))
        labels = meta.get("labels") or {}
        if not labels.get("app.kubernetes.io/name"):
            problem(where, "no app.kubernetes.io/name label")
        if labels.get("app.kubernetes.io/part-of") != PART_OF:
            problem(where, "label app.kubernetes.io/part-of is not %r" % PART_OF)
        template = pod_template(doc)
        if template is not None:
            pod_labels = (template.get("metadata") or {}).get("labels") or {}
            if not pod_labels.get("app.kubernetes.io/name") or pod_labels.get("app.kubernetes.io/part-of") != PART_OF:
                problem(where, "the pod template lacks the app.kubernetes.io/name and part-of labels")
            pods.append(pod_labels)
            selector = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels")
            if selector and any(pod_labels.get(k) != v for k, v in selector.items()):
                problem(where, "the selector does not match the pod template's labels")

    def matches_a_pod(selector):
        return bool(selector) and any(all(p.get(k) == v for k, v in selector.items()) for p in pods)

    by_kind = {}
    for source, doc in loaded:
        name = (doc.get("metadata") or {}).get("name")
        by_kind.setdefault(doc.get("kind"), {})[name] = (source, doc)
    for name, (source, svc) in (by_kind.get("Service") or {}).items():
        if not matches_a_pod((svc.get("spec") or {}).get("selector")):
            problem(source, "Service %s selects no pod template" % name)
    for name, (source, pdb) in (by_kind.get("PodDisruptionBudget") or {}).items():
        if not matches_a_pod(((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels")):
            problem(source, "PodDisruptionBudget %s selects no pod template" % name)
    for name, (source, hpa) in (by_kind.get("HorizontalPodAutoscaler") or {}).items():
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        kind, target_name = ref.get("kind"), ref.get("name")
        target = (by_kind.get(kind) or {}).get(target_name)
        if target is None:
            problem(source, "HorizontalPodAutoscaler %s scales %s/%s, which %s does not define"
                    % (name, kind, target_name, kustomization))
        elif "replicas" in (target[1].get("spec") or {}):
            problem(target[0], "%s/%s sets replicas, but HorizontalPodAutoscaler %s owns its count: "
                    "every apply would reset it" % (kind, target_name, name))


def main(argv):
    if len(argv) != 2:
        print("usage: check-kustomizations.py FOLDER", file=sys.stderr)
        return 2
    top = argv[1]
    found = []
    for folder, dirs, files in os.walk(top):
        dirs.sort()
        path = kustomization_in(folder)
        if path is not None:
            found.append(path)
    if not found:
        problem(top, "no kustomization.yaml found")
    seen = {}
    for path in found:
        loaded = check_kustomization(path, seen)
        check_resources(path, loaded)
    for line in dict.fromkeys(problems):
        print(line)
    if problems:
        return 1
    print("%d kustomizations checked: %s" % (len(found), ", ".join(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
