//! The real programs `smtpsim diff --client` drives, one adapter each: how it is configured
//! to send one message to the live server, how its outcome is read, and which client
//! profile models it (with which knobs set to match that configuration).

mod msmtp;
mod nullmailer;
mod postfix;
mod postfix_instance;
mod smtplib;
mod ssmtp;
mod swaks;

use super::observe::Outcome;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a program is asked to send, and where.
#[derive(Debug, Clone)]
pub struct Send<'a> {
    /// The live server's port on 127.0.0.1.
    pub port: u16,
    /// A fresh directory for this behaviour's configuration files.
    pub dir: &'a Path,
    /// Envelope sender.
    pub from: &'a str,
    /// Envelope recipients.
    pub to: &'a [String],
    /// The message, LF line ends.
    pub body: &'a str,
}

/// What names a program and says where to find it.
#[derive(Debug)]
pub struct About {
    /// Its name on the command line (`--client NAME`).
    pub name: &'static str,
    /// The client profile (for a proxy, the interceptor preset) that models it.
    pub profile: &'static str,
    /// Where it is looked for when `--program` is not given.
    pub default_path: &'static str,
    /// How to install it (said when it is missing).
    pub install: &'static str,
}

impl Send<'_> {
    /// Writes `text` as `name` in the behaviour's directory.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf, String> {
        let path = self.dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// `path -C CONF -f FROM TO...`: a sendmail-like program with its configuration file.
    pub fn sendmail_command(&self, path: &Path, conf: &Path) -> Command {
        let mut cmd = Command::new(path);
        cmd.arg("-C")
            .arg(conf)
            .arg("-f")
            .arg(self.from)
            .args(self.to);
        cmd
    }
}

/// One real program.
pub trait Program: Sync {
    /// Its names and where it is.
    fn about(&self) -> &'static About;
    /// Its name on the command line (`--client NAME`).
    fn name(&self) -> &'static str {
        self.about().name
    }
    /// The client profile that models it.
    fn profile(&self) -> &'static str {
        self.about().profile
    }
    /// Its name and version, e.g. `msmtp 1.8.23`.
    fn version(&self, path: &Path) -> String;
    /// The command timeout the adapter configures (None: the program's own is too long or
    /// not configurable, and no reply is delayed past it).
    fn timeout(&self) -> Option<Duration>;
    /// Client knobs set on the profile to match the adapter's configuration (TOML values).
    fn profile_knobs(&self) -> Vec<(&'static str, String)> {
        timeout_knobs(self.timeout())
    }
    /// Behaviours that can run at once (one for a program with a shared queue).
    fn parallel(&self) -> bool {
        true
    }
    /// Whether the live server keeps one port for the whole run (a program configured once).
    fn fixed_port(&self) -> bool {
        false
    }
    /// Stops what the adapter started for the run (called once at its end).
    fn finish(&self, _path: &Path) {}
    /// Sends one message; the outcome as the program tells it.
    fn send(&self, path: &Path, msg: &Send) -> Result<Outcome, String>;
}

/// Every adapter, by name.
pub fn all() -> Vec<&'static dyn Program> {
    vec![
        &ssmtp::Ssmtp,
        &msmtp::Msmtp,
        &nullmailer::Nullmailer,
        &smtplib::Smtplib,
        &swaks::Swaks,
        &postfix::Postfix,
    ]
}

/// The adapter named `name`.
pub fn by_name(name: &str) -> Result<&'static dyn Program, String> {
    let all = all();
    let names: Vec<&str> = all.iter().map(|p| p.name()).collect();
    all.into_iter().find(|p| p.name() == name).ok_or_else(|| {
        format!(
            "--client {name:?}: unknown program; one of {}",
            names.join(", ")
        )
    })
}

/// The program's path: `--program`, else its default; an error naming how to install it.
pub fn locate(program: &dyn Program, given: Option<&Path>) -> Result<PathBuf, String> {
    locate_about(program.about(), given)
}

/// The path of what `about` names: `given`, else its default; an error naming how to install it.
pub fn locate_about(about: &About, given: Option<&Path>) -> Result<PathBuf, String> {
    let path = given.map_or_else(|| PathBuf::from(about.default_path), Path::to_path_buf);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{}: {} not found; {}",
            about.name,
            path.display(),
            about.install
        ))
    }
}

/// The profile knobs for a command timeout: every timeout of the client session.
pub fn timeout_knobs(timeout: Option<Duration>) -> Vec<(&'static str, String)> {
    let Some(t) = timeout else { return Vec::new() };
    let value = format!("\"{}s\"", t.as_secs());
    [
        "timeout_connect",
        "timeout_greeting",
        "timeout_helo",
        "timeout_mail",
        "timeout_rcpt",
        "timeout_data_init",
        "timeout_data_done",
        "timeout_rset",
        "timeout_quit",
    ]
    .into_iter()
    .map(|k| (k, value.clone()))
    .collect()
}

/// The longest a one-shot program may run before it is killed (it then counts as failed).
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs `cmd` with `stdin` as its standard input; its exit status and what it printed.
pub fn run(mut cmd: Command, stdin: &[u8]) -> Result<(ExitStatus, String), String> {
    use std::io::Write;
    let what = format!("{:?}", cmd.get_program());
    let out_file = tempfile_in_dir()?;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(out_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(out_file.try_clone().map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        // A program that exits early closes its stdin: not an error here.
        let _ = input.write_all(stdin);
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what}: still running after {RUN_LIMIT:?}; killed"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut printed = String::new();
    {
        use std::io::{Read, Seek};
        let mut f = out_file;
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = f.read_to_string(&mut printed);
    }
    Ok((status, printed))
}

/// An anonymous file for a child's output (unlinked at once).
fn tempfile_in_dir() -> Result<std::fs::File, String> {
    let path = std::env::temp_dir().join(format!(
        "smtpsim-client-out-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

/// A one-shot program's outcome: exit 0 delivered, anything else failed (its caller is told).
pub fn one_shot(status: ExitStatus) -> Outcome {
    if status.success() {
        Outcome::Delivered
    } else {
        Outcome::Failed
    }
}

/// The last word of the first line `path ARG` prints (`msmtp version 1.8.23`: `1.8.23`).
pub fn version_word(path: &Path, arg: &str) -> String {
    let mut cmd = Command::new(path);
    cmd.arg(arg);
    first_line(cmd)
        .rsplit(' ')
        .next()
        .filter(|w| !w.is_empty())
        .unwrap_or("(version unknown)")
        .to_string()
}

/// The first line of `cmd`'s output (for versions).
pub fn first_line(mut cmd: Command) -> String {
    cmd.output()
        .ok()
        .map(|o| {
            let text = String::from_utf8_lossy(if o.stdout.is_empty() {
                &o.stderr
            } else {
                &o.stdout
            })
            .to_string();
            text.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_default()
}
