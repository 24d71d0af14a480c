//! Python 3's smtplib: a small script (`smtplib.py` beside this file, written into the
//! behaviour's directory) calls `SMTP("127.0.0.1", PORT, local_hostname="ws1.example.org",
//! timeout=5)` and `sendmail()` inside `with` (QUIT on the way out). Outcome: sendmail()
//! returned (recipients it refused are still "delivered" to the rest) delivered; it raised
//! failed-and-told. The profile gets the same 5 s on every timeout.

use super::{one_shot, run, version_word, About, Outcome, Program, Send};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SCRIPT: &str = include_str!("smtplib.py");

const ABOUT: About = About {
    name: "smtplib",
    profile: "smtplib",
    default_path: "/usr/bin/python3",
    install: "install Python 3 (`apt-get install python3`) or name it with --program PATH",
};

/// The adapter.
pub struct Smtplib;

impl Program for Smtplib {
    fn about(&self) -> &'static About {
        &ABOUT
    }
    fn version(&self, path: &Path) -> String {
        format!("smtplib (Python {})", version_word(path, "--version"))
    }
    fn timeout(&self) -> Option<Duration> {
        Some(Duration::from_secs(5))
    }
    fn send(&self, path: &Path, msg: &Send) -> Result<Outcome, String> {
        let script = msg.write("smtplib-send.py", SCRIPT)?;
        let mut cmd = Command::new(path);
        cmd.arg(&script)
            .arg(msg.port.to_string())
            .arg(self.timeout().expect("set").as_secs().to_string())
            .arg(msg.from)
            .args(msg.to);
        let (status, _) = run(cmd, msg.body.replace('\n', "\r\n").as_bytes())?;
        Ok(one_shot(status))
    }
}
