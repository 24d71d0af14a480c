//! What the Postfix tests share: the parity corpus (in the format `smtpsim::diff::script`
//! reads and plays) and a `smtpsim serve` configured like the reference Postfix.

#![allow(dead_code)]

use smtpsim::diff::script::{self, Step, Waits};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Waits for the reference with Postfix's default error delays (1 s a reply after 10 errors).
pub const WAITS: Waits = Waits {
    reply: Duration::from_secs(20),
    last: Duration::from_millis(1500),
};

/// Plays `steps` against `addr`: one line per reply, `[closed]` where the server hung up.
pub fn play(addr: &str, steps: &[Step]) -> Vec<String> {
    script::play(addr, steps, WAITS).unwrap_or_else(|e| panic!("{e}"))
}

/// Every script of `tests/parity/scripts/`, by name.
pub fn corpus() -> Vec<(String, Vec<Step>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/scripts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "smtp"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                script::parse(&std::fs::read_to_string(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            )
        })
        .collect()
}

/// `smtpsim serve --profile postfix`, configured like the reference Postfix (mailboxes bob,
/// carol, root and postmaster at example.org; local domains example.org and localhost), on a
/// free loopback port; stopped when dropped. `format`: its `--format`; what it prints on
/// stdout is kept in [`Serve::output`].
pub struct Serve {
    child: Child,
    /// The address it listens on.
    pub addr: String,
    /// Lines printed on stdout so far.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    pub fn start(format: &str) -> Serve {
        Serve::start_with(
            format,
            &[
                // Like the reference (Debian's snakeoil certificate, smtpd_tls_security_level = may).
                "--tls",
                "--set",
                "mailboxes=[\"bob@example.org\", \"carol@example.org\", \"root@example.org\", \"postmaster@example.org\"]",
                "--set",
                "local_domains=[\"example.org\", \"localhost\", \"[127.0.0.1]\"]",
            ],
        )
    }

    /// `serve --profile postfix --format FORMAT` with these arguments besides.
    pub fn start_with(format: &str, args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--profile",
                "postfix",
                "--format",
                format,
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("smtpsim starts");
        // The listening line is the first on stdout in text mode, on stderr otherwise.
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let output = Arc::new(Mutex::new(Vec::new()));
        let (mut announced, other): (Box<dyn BufRead + Send>, Box<dyn BufRead + Send>) =
            if format == "text" {
                (
                    Box::new(BufReader::new(stdout)),
                    Box::new(BufReader::new(stderr)),
                )
            } else {
                (
                    Box::new(BufReader::new(stderr)),
                    Box::new(BufReader::new(stdout)),
                )
            };
        let mut first = String::new();
        announced.read_line(&mut first).unwrap();
        let addr = first
            .split("listening on ")
            .nth(1)
            .unwrap_or_else(|| panic!("no listening line: {first:?}"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let (text_mode, kept) = (format == "text", output.clone());
        std::thread::spawn(move || for _ in announced.lines() {});
        std::thread::spawn(move || {
            for line in other.lines().map_while(Result::ok) {
                if !text_mode {
                    kept.lock().unwrap().push(line);
                }
            }
        });
        Serve {
            child,
            addr,
            output,
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
