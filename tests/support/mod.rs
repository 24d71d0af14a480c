//! What the Postfix tests share: the parity script format and its player, the corpus, and
//! a `smtpsim serve` configured like the reference Postfix.
//!
//! Scripts: `tests/parity/scripts/*.smtp`, one step per line:
//! - `> TEXT`  send TEXT + CRLF and read every reply owed so far (this one included);
//! - `+ TEXT`  send TEXT + CRLF, one reply owed, read later (pipelining);
//! - `. TEXT`  send TEXT + CRLF, no reply owed (message content);
//! - `~ BYTES` send raw bytes (escapes `\r \n \t \0 \xHH`), one reply owed, read now;
//! - `= BYTES` send raw bytes, no reply owed;
//! - `# ...`   a comment.
//!
//! `+`, `.` and `=` steps are written together with the next step that reads (one write,
//! as a pipelining client sends a group).
//!
//! After the last step the player waits briefly for more replies or the close.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Step {
    /// Bytes to send, replies owed by them, read now?
    Send(Vec<u8>, usize, bool),
}

pub fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < bytes.len() => {
                    out.push(u8::from_str_radix(&text[i + 2..i + 4], 16).expect("\\xHH"));
                    i += 2;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

pub fn parse(script: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for line in script.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (op, rest) = line.split_at(1);
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let crlf = |t: &str| {
            let mut v = t.as_bytes().to_vec();
            v.extend_from_slice(b"\r\n");
            v
        };
        steps.push(match op {
            ">" => Step::Send(crlf(rest), 1, true),
            "+" => Step::Send(crlf(rest), 1, false),
            "." => Step::Send(crlf(rest), 0, false),
            "~" => Step::Send(unescape(rest), 1, true),
            "=" => Step::Send(unescape(rest), 0, false),
            other => panic!("unknown step {other:?} in {line:?}"),
        });
    }
    steps
}

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    /// One reply (lines joined by " | "), or None at EOF / timeout.
    fn reply(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        let mut lines = Vec::new();
        loop {
            while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&raw)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    return Some(lines.join(" | "));
                }
            }
            if self.closed {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(_) => self.closed = true,
            }
        }
    }
}

/// Plays a script; returns one line per reply, `[closed]` where the server hung up.
pub fn play(addr: &str, steps: &[Step]) -> Vec<String> {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        closed: false,
    };
    let mut out = Vec::new();
    let mut owed = 1; // the banner
    let read_owed = |conn: &mut Conn, owed: &mut usize, out: &mut Vec<String>| -> bool {
        while *owed > 0 {
            match conn.reply(Duration::from_secs(20)) {
                Some(r) => {
                    out.push(normalise(&r));
                    *owed -= 1;
                }
                None => return false,
            }
        }
        true
    };
    if !read_owed(&mut conn, &mut owed, &mut out) {
        out.push("[closed]".into());
        return out;
    }
    // Steps that read nothing go out with the next step that reads, in one write: a
    // pipelined group arrives together, so both servers see the same input waiting.
    let mut unsent = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let Step::Send(bytes, replies, read_now) = step;
        unsent.extend_from_slice(bytes);
        owed += replies;
        if !*read_now && i + 1 < steps.len() {
            continue;
        }
        if conn.stream.write_all(&std::mem::take(&mut unsent)).is_err() {
            out.push("[closed]".into());
            return out;
        }
        if *read_now && !read_owed(&mut conn, &mut owed, &mut out) {
            out.push("[closed]".into());
            return out;
        }
    }
    // Anything more, and did the server close?
    while let Some(r) = conn.reply(Duration::from_millis(1500)) {
        out.push(normalise(&r));
    }
    if conn.closed {
        out.push("[closed]".into());
    }
    out
}

/// Queue ids differ from run to run; everything else is compared as is.
pub fn normalise(reply: &str) -> String {
    match reply.find("queued as ") {
        Some(i) => format!("{}queued as QUEUEID", &reply[..i]),
        None => reply.to_string(),
    }
}

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
                parse(&std::fs::read_to_string(&p).unwrap()),
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
        let mut child = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--profile",
                "postfix",
                "--format",
                format,
                "--set",
                "mailboxes=[\"bob@example.org\", \"carol@example.org\", \"root@example.org\", \"postmaster@example.org\"]",
                "--set",
                "local_domains=[\"example.org\", \"localhost\", \"[127.0.0.1]\"]",
            ])
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
