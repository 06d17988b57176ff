//! The project's task runner: one place for the checks that developers run
//! and that `.ci/run` calls, so the two never drift apart.
//!
//! `cargo xtask <task>`; tasks: `fmt`, `lint`, `test`, `ci`. It only runs
//! other tools (cargo, buf); it holds no project logic.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const TASKS: &str = "\
usage: cargo xtask <task>

tasks:
  fmt       format every crate
  lint      cargo fmt --check, clippy with -D warnings, buf lint
  test      the whole test suite (cargo test --workspace)
  ci        lint, then test: what .ci/run runs
  buf-lint  buf lint on proto/ (installs buf from npm if it is missing)";

fn main() -> ExitCode {
    let task = env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "fmt" => cargo(&["fmt", "--all"]),
        "lint" => lint(),
        "test" => test(),
        "ci" => lint().and_then(|()| test()),
        "buf-lint" => buf_lint(),
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
    buf_lint()
}

fn test() -> Result<(), String> {
    cargo(&["test", "--workspace", "--locked"])
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
