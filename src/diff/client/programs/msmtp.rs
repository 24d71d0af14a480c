//! msmtp: a configuration file given with `-C` (host 127.0.0.1, the port, `domain
//! ws1.example.org`, `tls off`, `auth off`, `timeout 5`), the message on stdin, the
//! recipients as arguments. Outcome: exit 0 delivered, else failed-and-told (no queue).
//! The profile gets the same 5 s on every timeout.

use super::{one_shot, run, version_word, About, Outcome, Program, Send};
use std::path::Path;
use std::time::Duration;

const ABOUT: About = About {
    name: "msmtp",
    profile: "msmtp",
    default_path: "/usr/bin/msmtp",
    install: "install it with `apt-get install msmtp`",
};

/// The adapter.
pub struct Msmtp;

impl Program for Msmtp {
    fn about(&self) -> &'static About {
        &ABOUT
    }
    fn version(&self, path: &Path) -> String {
        format!("msmtp {}", version_word(path, "--version"))
    }
    fn timeout(&self) -> Option<Duration> {
        Some(Duration::from_secs(5))
    }
    fn send(&self, path: &Path, msg: &Send) -> Result<Outcome, String> {
        let timeout = self.timeout().expect("set").as_secs();
        let conf = msg.write(
            "msmtprc",
            &format!(
                "account default\nhost 127.0.0.1\nport {}\ndomain ws1.example.org\nauth off\ntls off\ntimeout {timeout}\nsyslog off\n",
                msg.port
            ),
        )?;
        let cmd = msg.sendmail_command(path, &conf);
        let (status, _) = run(cmd, msg.body.as_bytes())?;
        Ok(one_shot(status))
    }
}
