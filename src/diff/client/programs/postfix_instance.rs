//! A private Postfix instance for `smtpsim diff --client postfix`: its own configuration and
//! queue directories under the system's temporary directory, a `master.cf` with only the
//! services a submission and its delivery need (no smtpd: it listens on no port),
//! `relayhost = [127.0.0.1]:PORT` (the live server), a mail log of its own, and 5 s SMTP
//! client timeouts. Started once per run, stopped (and removed) by [`Instance::stop`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The SMTP client timeouts the instance is given (the profile gets the same).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Its services (shared with the reference instances of `tests/parity/`); no smtpd.
const MASTER_CF: &str = include_str!("../../../../tests/parity/postfix-services.cf");

/// The start of an instance directory's name; the process id of its run follows.
const PREFIX: &str = "smtpsim-postfix-client-";

/// Stops and removes the instances whose run is gone (killed before it could stop them).
fn stop_orphans(sbin: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            Instance {
                dir: entry.path(),
                port: 0,
            }
            .stop(sbin);
        }
    }
}

/// A running instance.
#[derive(Debug)]
pub struct Instance {
    /// Its top directory (configuration in `etc/`, queue in `spool/`).
    pub dir: PathBuf,
    /// The live server's port it relays to.
    pub port: u16,
}

impl Instance {
    /// Its configuration directory (`-c`/`-C`).
    pub fn config(&self) -> PathBuf {
        self.dir.join("etc")
    }

    /// Its mail log.
    pub fn log(&self) -> PathBuf {
        self.dir.join("maillog")
    }

    /// Writes the configuration and starts it, relaying to 127.0.0.1:`port` (first
    /// stopping the instances of runs that were killed before they could stop theirs).
    pub fn start(sbin: &Path, port: u16) -> Result<Instance, String> {
        stop_orphans(sbin);
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["etc", "spool", "data"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let instance = Instance { dir, port };
        let d = instance.dir.display();
        let t = TIMEOUT.as_secs();
        let main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {d}/spool\n\
             data_directory = {d}/data\n\
             maillog_file_prefixes = {d}\n\
             maillog_file = {d}/maillog\n\
             myhostname = ws1.example.org\n\
             myorigin = ws1.example.org\n\
             mydestination =\n\
             inet_interfaces = loopback-only\n\
             inet_protocols = ipv4\n\
             relayhost = [127.0.0.1]:{port}\n\
             alias_maps =\n\
             alias_database =\n\
             local_transport = error:no local delivery\n\
             biff = no\n\
             smtp_tls_security_level = may\n\
             smtp_connect_timeout = {t}s\n\
             smtp_helo_timeout = {t}s\n\
             smtp_mail_timeout = {t}s\n\
             smtp_rcpt_timeout = {t}s\n\
             smtp_data_init_timeout = {t}s\n\
             smtp_data_xfer_timeout = {t}s\n\
             smtp_data_done_timeout = {t}s\n\
             smtp_rset_timeout = {t}s\n\
             smtp_quit_timeout = {t}s\n\
             smtp_starttls_timeout = {t}s\n"
        );
        std::fs::write(instance.config().join("main.cf"), main_cf).map_err(|e| e.to_string())?;
        std::fs::write(instance.config().join("master.cf"), MASTER_CF)
            .map_err(|e| e.to_string())?;
        // The master's lock file lives in data_directory, which must be postfix's.
        let chown = Command::new("chown")
            .arg("postfix")
            .arg(instance.dir.join("data"))
            .status();
        if !chown.is_ok_and(|s| s.success()) {
            return Err(format!(
                "postfix: cannot give {}/data to the postfix user (run as root)",
                d
            ));
        }
        let postfix = sbin.join("postfix");
        let out = Command::new(&postfix)
            .arg("-c")
            .arg(instance.config())
            .arg("start")
            .output()
            .map_err(|e| format!("{}: {e}", postfix.display()))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(instance.log()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return Err(format!(
                "postfix -c {} start failed: {}",
                instance.config().display(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ));
        }
        Ok(instance)
    }

    /// Runs `sbin/NAME -c CONFIG ARGS...`; its standard output.
    pub fn command(&self, sbin: &Path, name: &str, args: &[&str]) -> Result<String, String> {
        let path = sbin.join(name);
        let out = Command::new(&path)
            .arg("-c")
            .arg(self.config())
            .args(args)
            .output()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Stops it and removes its directories.
    pub fn stop(self, sbin: &Path) {
        let _ = self.command(sbin, "postfix", &["stop"]);
        // The master waits for its children; give it a moment before the files go.
        std::thread::sleep(Duration::from_millis(500));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
