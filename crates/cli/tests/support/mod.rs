//! Shared helpers for the `mpcium-cli` tests: run the built binary in a directory, file
//! checks, and a pseudo-terminal driver for passphrase prompts.
#![allow(dead_code)] // each test file uses a different subset

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A strong passphrase accepted by the strength rule.
pub const PASSPHRASE: &str = "correct-horse-battery-staple!";

/// scrypt work factor for tests (the real default costs ~1 s per file).
pub const TEST_WORK_FACTOR: &str = "10";

/// Result of one CLI run.
pub struct Run {
    /// Exit status was success.
    pub ok: bool,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// The CLI binary under test.
pub fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mpcium-cli"));
    cmd.env("MPCIUM_AGE_WORK_FACTOR", TEST_WORK_FACTOR);
    cmd.env_remove("ENVIRONMENT");
    cmd
}

/// Runs the CLI in `dir` with `args`, feeding `stdin` (empty when `None`).
pub fn must_run(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = cli()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        // The command may exit (e.g. refusing to overwrite) before reading stdin: a broken
        // pipe here is expected and the exit status tells the story.
        let _ = input.write_all(text.as_bytes());
    }
    drop(input);
    child.wait_with_output().unwrap().into()
}

/// Runs the CLI and panics with its output unless it succeeds.
pub fn must_succeed(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let run = must_run(dir, args, stdin);
    assert!(
        run.ok,
        "{args:?} failed:\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run
}

/// Runs the CLI and panics unless it fails; returns its output.
pub fn must_fail(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let run = must_run(dir, args, stdin);
    assert!(
        !run.ok,
        "{args:?} unexpectedly succeeded:\nstdout: {}",
        run.stdout
    );
    run
}

/// Panics unless `path` is a file with mode 0600.
pub fn must_be_private_file(path: &Path) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(meta.is_file(), "{} is not a file", path.display());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "{} mode",
        path.display()
    );
}

/// Sorted file names in `dir`.
pub fn must_list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Parses a JSON file.
pub fn must_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Path of the pseudo-terminal driver script.
pub fn pty_driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pty_drive.py")
}

/// Runs `program args` on a pseudo-terminal in `dir`, typing `answers` at passphrase prompts.
pub fn must_run_on_pty(dir: &Path, program: &str, args: &[&str], answers: &[&str]) -> Run {
    Command::new("python3")
        .arg(pty_driver())
        .arg(program)
        .args(args)
        .current_dir(dir)
        .env("PTY_ANSWERS", answers.join("\n"))
        .env("MPCIUM_AGE_WORK_FACTOR", TEST_WORK_FACTOR)
        .output()
        .unwrap()
        .into()
}

/// The Debian `age` binary, if installed.
pub fn age_binary() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("age"))
            .find(|p| p.is_file())
    })
}
