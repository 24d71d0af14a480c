//! swaks: `--server 127.0.0.1 --port PORT --helo ws1.example.org --from --to a,b
//! --timeout 5s --data @FILE` (no `--pipeline`, no `--tls`: its defaults). Outcome: exit 0
//! delivered, else failed-and-told. The profile gets the same 5 s on every timeout.

use super::{one_shot, run, version_word, About, Outcome, Program, Send};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ABOUT: About = About {
    name: "swaks",
    profile: "swaks",
    default_path: "/usr/bin/swaks",
    install: "install it with `apt-get install swaks`",
};

/// The adapter.
pub struct Swaks;

impl Program for Swaks {
    fn about(&self) -> &'static About {
        &ABOUT
    }
    fn version(&self, path: &Path) -> String {
        format!("swaks {}", version_word(path, "--version"))
    }
    fn timeout(&self) -> Option<Duration> {
        Some(Duration::from_secs(5))
    }
    fn send(&self, path: &Path, msg: &Send) -> Result<Outcome, String> {
        let data = msg.write("message", msg.body)?;
        let mut cmd = Command::new(path);
        cmd.args(["--server", "127.0.0.1", "--port"])
            .arg(msg.port.to_string())
            .args(["--helo", "ws1.example.org", "--from", msg.from, "--to"])
            .arg(msg.to.join(","))
            .arg("--timeout")
            .arg(format!("{}s", self.timeout().expect("set").as_secs()))
            .arg("--data")
            .arg(format!("@{}", data.display()))
            .arg("--suppress-data");
        let (status, _) = run(cmd, b"")?;
        Ok(one_shot(status))
    }
}
