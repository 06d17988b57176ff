//! `cargo xtask chaos`: builds the production binaries and the fault
//! harness (the `complaints-chaos` package, `tests/chaos`), then runs the
//! harness on them. The harness is a package of its own, not part of
//! xtask, so that xtask stays free of dependencies and `cargo xtask fmt`
//! or `lint` start at once on a fresh clone; it shares the workspace's
//! build of tonic, sea-orm and the rest.
//!
//! `cargo xtask ci` runs the short profile after the tests; locally
//! `COMPLAINTS_SKIP_CHAOS=1` skips it, but never when `CI=true`.

use std::env;
use std::process::Command;

/// The packages whose binaries the harness starts, and the harness's own.
const PACKAGES: [&str; 5] = [
    "complaints-case",
    "complaints-intake",
    "complaints-escalation",
    "complaints-notification",
    "complaints-chaos",
];

/// Set to `1` (or `true`) to skip the fault run in `cargo xtask ci`
/// outside CI.
pub const SKIP_VAR: &str = "COMPLAINTS_SKIP_CHAOS";

pub const USAGE: &str = "\
usage: cargo xtask chaos [--release] [harness options]

Builds intake, case, escalation and notification (debug, or --release) and
runs the fault harness on them: its own Postgres, Redis and SMTP server, two
replicas of each service, load, faults, then the invariants. Harness
options (see RELIABILITY.md): --profile short|full, --seed N,
--faults a,b,..., --hold S, --rate N, --warmup S, --drain S,
--smtp-delay S, --keep.";

/// `cargo xtask chaos <args>`.
pub fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("{USAGE}");
        return Ok(());
    }
    let release = args.iter().any(|a| a == "--release");
    let harness_args: Vec<&String> = args.iter().filter(|a| *a != "--release").collect();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build.args(["build", "--locked", "--bins"]);
    for package in PACKAGES {
        build.args(["--package", package]);
    }
    if release {
        build.arg("--release");
    }
    super::run(build.current_dir(super::root()))?;
    let bin_dir = super::target_dir().join(if release { "release" } else { "debug" });
    super::run(
        Command::new(bin_dir.join("chaos"))
            .arg("--bin-dir")
            .arg(&bin_dir)
            .args(harness_args)
            .current_dir(super::root()),
    )
}

/// The short profile, for `cargo xtask ci`: always with `CI=true`, else
/// unless [`SKIP_VAR`] says to skip it.
pub fn ci() -> Result<(), String> {
    let in_ci = env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let skip = env::var(SKIP_VAR).is_ok_and(|v| v == "1" || v == "true");
    if skip && !in_ci {
        eprintln!("xtask: fault run skipped ({SKIP_VAR} is set; CI always runs it)");
        return Ok(());
    }
    run(&["--profile".to_owned(), "short".to_owned()])
}
