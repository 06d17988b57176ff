//! Saying what a test variant did: a skipped variant writes a line a person
//! sees in `cargo test`'s output, and every variant that ran on Postgres or
//! Redis, or was skipped, appends a line to the ledger that
//! `cargo xtask test` sums up.
//!
//! libtest captures what the print macros write, so the skip line is
//! written to the process's standard error directly.
//!
//! The ledger is a text file, one line per event, fields separated by tabs:
//!
//! ```text
//! ran      postgres  api-0123abcd[4711]  access::postgres::a_handler_reads_a_case
//! skipped  redis     conformance-89ab[4712]  claiming::redis_postgres::x  REDIS_URL unset and nothing answers on 127.0.0.1:6379
//! ```
//!
//! (outcome, backend, test binary and process, test, reason). A test is
//! named by its thread, which libtest names after it. One test may write
//! several lines (a Redis variant also takes a Postgres database): it ran on
//! Redis if it wrote `ran redis`, and was skipped if it wrote any `skipped`.
//! The file is [`LEDGER_VAR`] if set, else [`LEDGER_FILE`] in the target
//! directory the test binary was built into.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Names the ledger file, overriding the one in the target directory.
pub const LEDGER_VAR: &str = "COMPLAINTS_TEST_LEDGER";
/// The ledger's name in the target directory.
pub const LEDGER_FILE: &str = "complaints-test-backends.tsv";

/// What a test variant needs beyond SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Redis,
    /// A real SMTP server (python3 with aiosmtpd): only ever skipped.
    Smtp,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Redis => "redis",
            Backend::Smtp => "smtp",
        })
    }
}

/// Records that the calling test runs on `backend`.
pub fn ran(backend: Backend) {
    append(&format!(
        "ran\t{backend}\t{}\t{}\t\n",
        process(),
        test_name()
    ));
}

/// Reports that the calling test is skipped, as it cannot have `backend`,
/// because `reason`: a line on standard error that `cargo test` shows, and
/// one in the ledger.
pub fn skipped(backend: Backend, reason: &str) {
    let test = test_name();
    let reason = one_line(reason);
    let line = format!("skipped: {test} on {backend}: {reason}\n");
    // Straight to the file descriptor: libtest does not capture this.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    append(&format!(
        "skipped\t{backend}\t{}\t{test}\t{reason}\n",
        process()
    ));
}

/// The running test's name: libtest runs each test on a thread named
/// after it.
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("an unnamed test")
        .to_owned()
}

/// Where this process appends to the ledger, if anywhere.
pub fn ledger_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(LEDGER_VAR).filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    Some(target_dir(&exe)?.join(LEDGER_FILE))
}

/// The target directory a binary was built into: the nearest folder above
/// it holding cargo's `CACHEDIR.TAG`, else the grandparent of its folder
/// (`<target>/<profile>/deps/<binary>`).
fn target_dir(exe: &Path) -> Option<PathBuf> {
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .or_else(|| exe.ancestors().nth(3))
        .map(Path::to_path_buf)
}

/// `<binary>[<pid>]`: tells apart tests of one name in two suites.
fn process() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    format!("{binary}[{}]", std::process::id())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Appends `line` to the ledger in one write; a ledger that cannot be
/// written is noted once and otherwise ignored.
fn append(line: &str) {
    static LEDGER: OnceLock<Option<PathBuf>> = OnceLock::new();
    static WRITING: Mutex<bool> = Mutex::new(false);
    let Some(path) = LEDGER.get_or_init(ledger_path) else {
        return;
    };
    let mut noted = WRITING.lock().unwrap_or_else(PoisonError::into_inner);
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(error) = written
        && !*noted
    {
        *noted = true;
        let note = format!("note: cannot append to {}: {error}\n", path.display());
        let _ = std::io::stderr().lock().write_all(note.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_directory_is_where_cargo_tagged_it() {
        let root = tempfile_dir();
        let target = root.join("target");
        let deps = target.join("debug").join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let exe = deps.join("api-0123");
        assert_eq!(target_dir(&exe), Some(target.clone()));
        std::fs::write(root.join("CACHEDIR.TAG"), "").unwrap();
        std::fs::write(target.join("CACHEDIR.TAG"), "").unwrap();
        assert_eq!(target_dir(&exe), Some(target));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_reason_is_one_line() {
        assert_eq!(
            one_line("refused:\n\tno\tsuch  role "),
            "refused: no such role"
        );
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "complaints-test-support-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
