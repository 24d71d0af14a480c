//! nullmailer 2.2's `smtp` protocol module (what `nullmailer-send` runs per message): its
//! options on stdin (`host=127.0.0.1`, `port=PORT`, one a line), the queued message on file
//! descriptor 3 (the envelope sender on the first line, a recipient a line, an empty line,
//! then the message), `HELOHOST=ws1.example.org` in its environment. Outcome: exit 0
//! delivered, else failed-and-told (the module keeps nothing; `nullmailer-send`'s queue
//! would retry on a temporary exit code, which is not run here). Its timeouts are not
//! configurable in the module: no reply is delayed past them.

use super::{one_shot, run, About, Outcome, Program, Send};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ABOUT: About = About {
    name: "nullmailer",
    profile: "nullmailer",
    default_path: "/usr/lib/nullmailer/smtp",
    install: "nullmailer conflicts with postfix as a package: `apt-get download nullmailer && dpkg-deb -x nullmailer_*.deb DIR`, then --program DIR/usr/lib/nullmailer/smtp",
};

/// The adapter.
pub struct Nullmailer;

impl Program for Nullmailer {
    fn about(&self) -> &'static About {
        &ABOUT
    }
    fn version(&self, path: &Path) -> String {
        // The module prints no version; the package's changelog beside it says which.
        let doc = path
            .ancestors()
            .nth(3)
            .map(|usr| usr.join("share/doc/nullmailer/changelog.Debian.gz"));
        let version = doc
            .and_then(|d| Command::new("zcat").arg(d).output().ok())
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).to_string();
                let first = text.lines().next()?.to_string();
                // "nullmailer (1:2.2-4) unstable; urgency=medium"
                let v = first.split(['(', ')']).nth(1)?.to_string();
                Some(v.trim_start_matches("1:").to_string())
            });
        format!(
            "nullmailer {}",
            version.unwrap_or_else(|| "(version unknown)".into())
        )
    }
    fn timeout(&self) -> Option<Duration> {
        None
    }
    fn send(&self, path: &Path, msg: &Send) -> Result<Outcome, String> {
        let mut text = format!("{}\n", msg.from);
        for to in msg.to {
            text.push_str(&format!("{to}\n"));
        }
        text.push('\n');
        text.push_str(msg.body);
        let mail = msg.write("queued-message", &text)?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("exec \"$0\" 3<\"$1\"")
            .arg(path)
            .arg(&mail)
            .env("HELOHOST", "ws1.example.org");
        let options = format!("host=127.0.0.1\nport={}\n", msg.port);
        let (status, _) = run(cmd, options.as_bytes())?;
        Ok(one_shot(status))
    }
}
