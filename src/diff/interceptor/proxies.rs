//! The real proxies `smtpsim diff --interceptor` runs, one adapter each: how it is configured
//! (listen and upstream on loopback, its filter for the behaviour) and started in the
//! foreground as the current user, which preset models it, and which knobs of that preset
//! stand for the filter.

use super::behaviour::{Filter, SIGNATURE, SLOW_FILTER};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What names a proxy and says where to find it (`profile`: the interceptor preset that
/// models it).
pub use crate::diff::client::programs::About;

/// One real proxy.
pub trait Proxy: Sync {
    /// Its names and where it is.
    fn about(&self) -> &'static About;
    /// Its name and version, e.g. `proxsmtp 1.10`.
    fn version(&self, path: &Path) -> String;
    /// The preset's knobs for `filter` (TOML values).
    fn filter_knobs(&self, filter: Filter) -> Vec<(&'static str, String)>;
    /// The filters its configuration can stand for.
    fn filters(&self) -> &'static [Filter] {
        &[Filter::Pass, Filter::Reject, Filter::Slow]
    }
    /// The line a message carries for the refusing filter (its own test string, or
    /// [`SIGNATURE`] where the behaviour's configuration looks for that).
    fn signature(&self) -> &'static str {
        SIGNATURE
    }
    /// Starts what every behaviour of a run shares (a scanner daemon), in `shared`.
    fn prepare(&self, _shared: &Path) -> Result<Option<Running>, String> {
        Ok(None)
    }
    /// Starts the proxy at `path` as `how` says; returns once it accepts connections.
    fn start(&self, path: &Path, how: &Start) -> Result<Running, String>;
}

/// How a proxy is started for one behaviour.
pub struct Start<'a> {
    /// The run's directory (what [`Proxy::prepare`] made is there).
    pub shared: &'a Path,
    /// A fresh directory for its configuration, filter and temporary files.
    pub dir: &'a Path,
    /// It listens on 127.0.0.1:`port`.
    pub port: u16,
    /// The server it relays to.
    pub upstream: std::net::SocketAddr,
    /// Its filter.
    pub filter: Filter,
}

/// A started proxy, in a process group of its own: stopped when dropped, with every process
/// it forked (spampd's Net::Server children outlive a parent that is only killed).
pub struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !killed {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Every adapter.
pub fn all() -> Vec<&'static dyn Proxy> {
    vec![&Proxsmtp, &Clamsmtp, &Spampd]
}

/// The adapter named `name`.
pub fn by_name(name: &str) -> Result<&'static dyn Proxy, String> {
    let all = all();
    let names: Vec<&str> = all.iter().map(|p| p.about().name).collect();
    all.into_iter()
        .find(|p| p.about().name == name)
        .ok_or_else(|| {
            format!(
                "--interceptor {name:?}: unknown proxy; one of {}",
                names.join(", ")
            )
        })
}

/// The proxy's path: `--program`, else its default; an error naming how to install it.
pub fn locate(proxy: &dyn Proxy, given: Option<&Path>) -> Result<PathBuf, String> {
    crate::diff::client::programs::locate_about(proxy.about(), given)
}

/// How long a proxy gets to say it accepts connections: only a bound on a start that hangs
/// (spampd compiles SpamAssassin's rules first: 2 s here when idle, over 10 s on a loaded
/// 2-core machine).
const START_LIMIT: Duration = Duration::from_secs(60);

/// Starts `cmd` with its output in `log`; returns once `ready` says so (given the log's text).
fn start_logged(
    mut cmd: Command,
    log: &Path,
    ready: impl Fn(&str) -> bool,
) -> Result<Running, String> {
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .spawn()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    let mut running = Running { child };
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if ready(&text) {
            return Ok(running);
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(format!("{:?} exited ({status}): {text}", cmd.get_program()));
        }
        if started.elapsed() > START_LIMIT {
            return Err(format!(
                "{:?}: not ready after {START_LIMIT:?}: {text}",
                cmd.get_program()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The reply a refusing filter prints on stderr (proxsmtp sends its last line to the client).
pub const FILTER_REFUSAL: &str = "550 5.7.1 Refused by the filter";

/// A pipe filter (the message on stdin, the filtered one on stdout) as a shell script: slow
/// sleeps first, reject refuses a message with the signature in it.
fn pipe_filter(filter: Filter) -> String {
    let sleep = match filter {
        Filter::Slow => format!("sleep {}\n", SLOW_FILTER.as_secs()),
        _ => String::new(),
    };
    format!(
        "#!/bin/sh\n{sleep}m=$(mktemp)\ncat > \"$m\"\n\
         if grep -q '{SIGNATURE}' \"$m\"; then rm -f \"$m\"; echo '{FILTER_REFUSAL}' >&2; exit 1; fi\n\
         cat \"$m\"\nrm -f \"$m\"\n"
    )
}

/// proxsmtp: proxsmtpd in the foreground with a private proxsmtpd.conf.
pub struct Proxsmtp;

const PROXSMTP: About = About {
    name: "proxsmtp",
    profile: "proxsmtp",
    default_path: "/usr/sbin/proxsmtpd",
    install: "install it with `apt-get install proxsmtp`",
};

impl Proxy for Proxsmtp {
    fn about(&self) -> &'static About {
        &PROXSMTP
    }
    fn version(&self, path: &Path) -> String {
        smtppass_version(path, "proxsmtp")
    }
    fn filter_knobs(&self, filter: Filter) -> Vec<(&'static str, String)> {
        match filter {
            Filter::Pass => Vec::new(),
            Filter::Reject => vec![
                ("block_signature", format!("{SIGNATURE:?}")),
                ("detection_reply", format!("{FILTER_REFUSAL:?}")),
            ],
            Filter::Slow => vec![("scan_delay", format!("\"{}s\"", SLOW_FILTER.as_secs()))],
        }
    }
    fn start(&self, path: &Path, how: &Start) -> Result<Running, String> {
        use std::os::unix::fs::PermissionsExt;
        let Start {
            dir,
            port,
            upstream,
            filter,
            ..
        } = *how;
        let script = dir.join("filter.sh");
        std::fs::write(&script, pipe_filter(filter)).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let conf = format!(
            "Listen: 127.0.0.1:{port}\nOutAddress: {upstream}\nFilterCommand: {}\n\
             FilterTimeout: 30\nTempDirectory: {}\n",
            script.display(),
            dir.display()
        );
        start_smtppass(path, dir, "proxsmtpd", &conf)
    }
}

/// Starts a proxy of the smtppass family (proxsmtp, clamsmtp) at `path` in the foreground
/// (`-d 4`: it logs "accepting connections" when ready) with `conf` as `NAME.conf` in `dir`,
/// its log and pid file there too.
fn start_smtppass(path: &Path, dir: &Path, name: &str, conf: &str) -> Result<Running, String> {
    let file = dir.join(format!("{name}.conf"));
    std::fs::write(&file, conf).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut cmd = Command::new(path);
    cmd.arg("-d")
        .arg("4")
        .arg("-f")
        .arg(&file)
        .arg("-p")
        .arg(dir.join(format!("{name}.pid")));
    start_logged(cmd, &dir.join(format!("{name}.log")), |log| {
        log.contains("accepting connections")
    })
}

/// The version word a proxy of the smtppass family prints with `-v` (`(version 1.10)`).
fn smtppass_version(path: &Path, name: &str) -> String {
    let mut cmd = Command::new(path);
    cmd.arg("-v");
    let line = crate::diff::client::programs::first_line(cmd);
    let version = line
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map_or("(version unknown)", |w| w.trim_end_matches(')'));
    format!("{name} {version}")
}

/// clamsmtp: clamsmtpd in the foreground (`-d 4`) with a private clamsmtpd.conf, asking a
/// clamd started for the run (in the foreground, on a local socket) whose signature database is
/// one local signature: [`SIGNATURE`] (the official databases need freshclam and the network).
pub struct Clamsmtp;

const CLAMSMTP: About = About {
    name: "clamsmtp",
    profile: "clamsmtp",
    default_path: "/usr/sbin/clamsmtpd",
    install: "install it with `apt-get install clamsmtp clamav-daemon`",
};

/// Where clamd is.
const CLAMD: &str = "/usr/sbin/clamd";

impl Proxy for Clamsmtp {
    fn about(&self) -> &'static About {
        &CLAMSMTP
    }
    fn version(&self, path: &Path) -> String {
        let mut cmd = Command::new(CLAMD);
        cmd.arg("-V");
        let clamd = crate::diff::client::programs::first_line(cmd);
        format!("{} (clamd: {clamd})", smtppass_version(path, "clamsmtp"))
    }
    fn filter_knobs(&self, filter: Filter) -> Vec<(&'static str, String)> {
        match filter {
            Filter::Reject => vec![("block_signature", format!("{SIGNATURE:?}"))],
            _ => Vec::new(),
        }
    }
    fn filters(&self) -> &'static [Filter] {
        // clamd scans at once: there is no slow scan to configure.
        &[Filter::Pass, Filter::Reject]
    }
    fn prepare(&self, shared: &Path) -> Result<Option<Running>, String> {
        let db = shared.join("clamav-db");
        std::fs::create_dir_all(&db).map_err(|e| format!("{}: {e}", db.display()))?;
        let hex: String = SIGNATURE.bytes().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            db.join("smtpsim.ndb"),
            format!("Smtpsim.Test.Signature:0:*:{hex}\n"),
        )
        .map_err(|e| e.to_string())?;
        let conf = shared.join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "LocalSocket {}\nDatabaseDirectory {}\nForeground yes\nTemporaryDirectory {}\n",
                shared.join("clamd.sock").display(),
                db.display(),
                shared.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut cmd = Command::new(CLAMD);
        cmd.arg("-c").arg(&conf);
        let socket = shared.join("clamd.sock");
        start_logged(cmd, &shared.join("clamd.log"), |_| socket.exists()).map(Some)
    }
    fn start(&self, path: &Path, how: &Start) -> Result<Running, String> {
        let conf = format!(
            "Listen: 127.0.0.1:{}\nOutAddress: {}\nClamAddress: {}\nTempDirectory: {}\n",
            how.port,
            how.upstream,
            how.shared.join("clamd.sock").display(),
            how.dir.display()
        );
        start_smtppass(path, how.dir, "clamsmtpd", &conf)
    }
}

/// spampd: spampd in the foreground (`--nodetach`) on 127.0.0.1, started as Debian's
/// /etc/default/spampd starts it (`--tagall`, `--local-only`, 3 children), as the current user,
/// with a private SpamAssassin configuration (`--saconfig`): `report_safe 0` (the markup is
/// header fields; the default wraps spam in a report whose MIME boundary is random) and no
/// Bayes (it would learn into the shared state directory). The filter that refuses stands for
/// a message with SpamAssassin's GTUBE test string, which spampd tags and passes; there is no
/// slow filter: SpamAssassin's local tests take about 0.1 s and no setting makes them slow.
/// spampd 2.53 logs only to syslog (none here: its complaints go to the log file) and its
/// `--homedir` fails in taint mode, so SpamAssassin's state directory is the package's
/// /var/cache/spampd, which nothing writes with Bayes off.
pub struct Spampd;

const SPAMPD: About = About {
    name: "spampd",
    profile: "spampd",
    default_path: "/usr/sbin/spampd",
    install: "install it with `apt-get install spampd`",
};

/// What spampd's private SpamAssassin configuration says.
const SPAMPD_SA_CONFIG: &str = "report_safe 0\nuse_bayes 0\nbayes_auto_learn 0\n";

impl Proxy for Spampd {
    fn about(&self) -> &'static About {
        &SPAMPD
    }
    fn version(&self, path: &Path) -> String {
        let mut cmd = Command::new(path);
        cmd.arg("--version");
        let out = cmd
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let word = |line: &str| {
            line.split_whitespace()
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                .map(str::to_string)
        };
        let spampd = out
            .lines()
            .find_map(word)
            .unwrap_or("(version unknown)".into());
        let sa = out
            .lines()
            .filter(|l| l.contains("SpamAssassin"))
            .find_map(word)
            .unwrap_or("(version unknown)".into());
        format!("spampd {spampd} (SpamAssassin {sa})")
    }
    fn filter_knobs(&self, _filter: Filter) -> Vec<(&'static str, String)> {
        // The preset tags GTUBE itself, as SpamAssassin always does.
        Vec::new()
    }
    fn filters(&self) -> &'static [Filter] {
        &[Filter::Pass, Filter::Reject]
    }
    fn signature(&self) -> &'static str {
        crate::profile::interceptor::GTUBE
    }
    fn start(&self, path: &Path, how: &Start) -> Result<Running, String> {
        let Start {
            dir,
            port,
            upstream,
            ..
        } = *how;
        let conf = dir.join("spampd-sa.cf");
        std::fs::write(&conf, SPAMPD_SA_CONFIG).map_err(|e| format!("{}: {e}", conf.display()))?;
        let user = current("-un")?;
        let group = current("-gn")?;
        let mut cmd = Command::new(path);
        cmd.arg(format!("--host=127.0.0.1:{port}"))
            .arg(format!("--relayhost={upstream}"))
            .arg("--nodetach")
            .arg(format!("--user={user}"))
            .arg(format!("--group={group}"))
            .arg(format!("--pid={}", dir.join("spampd.pid").display()))
            .arg("--tagall")
            .arg("--local-only")
            .arg("--children=3")
            .arg("--logsock=inet")
            .arg(format!("--saconfig={}", conf.display()));
        start_logged(cmd, &dir.join("spampd.log"), |_| listening(port))
    }
}

/// The current user's or group's name (`id -un`, `id -gn`).
fn current(flag: &str) -> Result<String, String> {
    let out = Command::new("id")
        .arg(flag)
        .output()
        .map_err(|e| format!("id {flag}: {e}"))?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if name.is_empty() {
        return Err(format!("id {flag} gave no name"));
    }
    Ok(name)
}

/// True when something listens on 127.0.0.1:`port` (read from /proc/net/tcp: connecting to
/// see would open a session through the proxy to the server).
fn listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|table| {
        table.lines().any(|l| {
            let mut f = l.split_whitespace();
            f.nth(1) == Some(local.as_str()) && f.nth(1) == Some("0A")
        })
    })
}
