//! Running the smtpsim binary from a test: its exit code, stdout and stderr.

#![allow(dead_code)]

use std::process::Command;

/// `smtpsim ARGS...`: (exit code, stdout, stderr).
pub fn smtpsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
        .args(args)
        .output()
        .expect("smtpsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
