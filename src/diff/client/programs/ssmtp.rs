//! ssmtp 2.64: a configuration file given with `-C` (`mailhub=127.0.0.1:PORT`,
//! `hostname=ws1.example.org`), the message on stdin, the recipients as arguments, `$HOME`
//! set to the behaviour's directory (it saves `dead.letter` there). Outcome: exit 0 delivered,
//! else failed-and-told (it keeps no queue). Its timeouts (300 s per command, from alarm())
//! cannot be configured: no reply is delayed past them.

use super::{first_line, one_shot, run, About, Outcome, Program, Send};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ABOUT: About = About {
    name: "ssmtp",
    profile: "ssmtp",
    default_path: "/usr/sbin/ssmtp",
    install: "ssmtp conflicts with postfix as a package: `apt-get download ssmtp && dpkg-deb -x ssmtp_*.deb DIR`, then --program DIR/usr/sbin/ssmtp",
};

/// The adapter.
pub struct Ssmtp;

impl Program for Ssmtp {
    fn about(&self) -> &'static About {
        &ABOUT
    }
    fn version(&self, path: &Path) -> String {
        let mut cmd = Command::new(path);
        cmd.arg("-V");
        let line = first_line(cmd);
        // "sSMTP 2.64 (Not sendmail at all)"
        match line.split_whitespace().nth(1) {
            Some(v) => format!("ssmtp {v}"),
            None => "ssmtp (version unknown)".into(),
        }
    }
    fn timeout(&self) -> Option<Duration> {
        None
    }
    fn send(&self, path: &Path, msg: &Send) -> Result<Outcome, String> {
        let conf = msg.write(
            "ssmtp.conf",
            &format!(
                "mailhub=127.0.0.1:{}\nhostname=ws1.example.org\nFromLineOverride=YES\n",
                msg.port
            ),
        )?;
        let mut cmd = msg.sendmail_command(path, &conf);
        cmd.env("HOME", msg.dir);
        let (status, _) = run(cmd, msg.body.as_bytes())?;
        Ok(one_shot(status))
    }
}
