//! Tests that need what this machine may not have (Postfix, tshark, chromium, swaks) skip with
//! a note on stderr and leave a line for the run's summary (`tests/zz_skipped.rs`, the last
//! test target, prints it). With `SMTPSIM_REQUIRE_TOOLS=1` (`.ci/run` sets it: CI installs
//! them all) a missing tool fails the test instead.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where this run's notes go: one file per `cargo test` run (the test binaries' parent).
pub fn notes_file() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("skipped")
        .join(format!("run-{}.txt", std::os::unix::process::parent_id()))
}

/// Whether a missing tool fails the test (`SMTPSIM_REQUIRE_TOOLS=1`).
pub fn required() -> bool {
    std::env::var("SMTPSIM_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// The test running on this thread skips: `tool` is missing (`how`: how to get it). Panics
/// instead when tools are required.
pub fn skip(tool: &str, how: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    if required() {
        panic!("{test}: {tool} is missing ({how}) and SMTPSIM_REQUIRE_TOOLS=1");
    }
    eprintln!("skipped: {test}: {tool} is missing ({how})");
    let binary = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let binary = binary.split('-').next().unwrap_or("").to_string();
    let file = notes_file();
    let _ = std::fs::create_dir_all(file.parent().unwrap());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
    {
        let _ = writeln!(f, "{tool}\t{binary}::{test}");
    }
}

/// The path of `tool` if one of `paths` (or the usual directories) has it; otherwise the test
/// skips (see [`skip`]).
pub fn find(tool: &str, paths: &[&str]) -> Option<PathBuf> {
    let usual = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"];
    let found = paths
        .iter()
        .map(PathBuf::from)
        .chain(usual.iter().map(|d| Path::new(d).join(tool)))
        .find(|p| p.exists());
    if found.is_none() {
        skip(tool, "CI installs it");
    }
    found
}

/// The value of `var` (the address of the reference Postfix, ...), or a skip.
pub fn env(var: &str, tool: &str) -> Option<String> {
    let value = std::env::var(var).ok().filter(|v| !v.is_empty());
    if value.is_none() {
        skip(
            tool,
            &format!("{var} is not set; see tests/parity/start-postfix.sh"),
        );
    }
    value
}
