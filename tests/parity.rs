//! Postfix parity: the same SMTP scripts against `smtpsim serve --profile postfix` and against
//! a real Postfix, compared reply by reply (code, enhanced code, whether and when the
//! connection closed; texts after normalising queue ids, reported).
//!
//! Scripts: `tests/parity/scripts/*.smtp`, one step per line:
//! - `> TEXT`  send TEXT + CRLF and read every reply owed so far (this one included);
//! - `+ TEXT`  send TEXT + CRLF, one reply owed, read later (pipelining);
//! - `. TEXT`  send TEXT + CRLF, no reply owed (message content);
//! - `~ BYTES` send raw bytes (escapes `\r \n \t \0 \xHH`), one reply owed, read now;
//! - `= BYTES` send raw bytes, no reply owed;
//! - `# ...`   a comment.
//!
//! After the last step the harness waits briefly for more replies or the close.
//!
//! Golden replies recorded from the real server are in `tests/parity/golden/`, so the corpus
//! runs where Postfix is not installed. With `SMTPSIM_POSTFIX=127.0.0.1:10025` (CI starts one
//! with `tests/parity/start-postfix.sh`) the real server is asked afresh and compared; with
//! `SMTPSIM_PARITY_RECORD=1` as well, the golden files are rewritten.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Step {
    /// Bytes to send, replies owed by them, read now?
    Send(Vec<u8>, usize, bool),
}

fn unescape(text: &str) -> Vec<u8> {
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

fn parse(script: &str) -> Vec<Step> {
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

struct Conn {
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
fn play(addr: &str, steps: &[Step]) -> Vec<String> {
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
    for step in steps {
        let Step::Send(bytes, replies, read_now) = step;
        if conn.stream.write_all(bytes).is_err() {
            out.push("[closed]".into());
            return out;
        }
        owed += replies;
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
fn normalise(reply: &str) -> String {
    match reply.find("queued as ") {
        Some(i) => format!("{}queued as QUEUEID", &reply[..i]),
        None => reply.to_string(),
    }
}

/// Code and enhanced code of a recorded reply line (`[closed]` stays as is).
fn codes(line: &str) -> String {
    let mut words = line.split([' ', '-']);
    let code = words.next().unwrap_or("");
    match words.next() {
        Some(w)
            if w.split('.').count() == 3
                && w.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            format!("{code} {w}")
        }
        _ => code.to_string(),
    }
}

fn corpus() -> Vec<(String, Vec<Step>)> {
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

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/parity/golden")
        .join(format!("{name}.txt"))
}

struct Serve(Child, String);

impl Serve {
    fn start() -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--profile",
                "postfix",
                "--set",
                "mailboxes=[\"bob@example.org\", \"carol@example.org\", \"root@example.org\", \"postmaster@example.org\"]",
                "--set",
                "local_domains=[\"example.org\", \"localhost\"]",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("smtpsim starts");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        let addr = first
            .split("listening on ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        std::thread::spawn(move || for _ in reader.lines() {});
        Serve(child, addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_postfix_profile_answers_like_postfix() {
    let corpus = corpus();
    assert!(
        corpus.len() >= 40,
        "the corpus has {} scripts",
        corpus.len()
    );
    let real = std::env::var("SMTPSIM_POSTFIX")
        .ok()
        .filter(|v| !v.is_empty());
    let record = std::env::var("SMTPSIM_PARITY_RECORD").is_ok_and(|v| v == "1");
    let serve = Serve::start();
    // Scripts run in parallel; the slow ones (error limits) take ~11 s each.
    let results: Vec<(String, Vec<String>, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = corpus
            .iter()
            .map(|(name, steps)| {
                let (real, serve_addr) = (real.clone(), serve.1.clone());
                scope.spawn(move || {
                    let reference = match &real {
                        Some(addr) => {
                            let fresh = play(addr, steps);
                            if record {
                                std::fs::create_dir_all(golden_path(name).parent().unwrap()).unwrap();
                                std::fs::write(golden_path(name), fresh.join("\n") + "\n").unwrap();
                            }
                            fresh
                        }
                        None => std::fs::read_to_string(golden_path(name))
                            .unwrap_or_else(|_| panic!("no golden replies for {name}; record them (see tests/parity.rs)"))
                            .lines()
                            .map(str::to_string)
                            .collect(),
                    };
                    (name.clone(), reference, play(&serve_addr, steps))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("script thread"))
            .collect()
    });
    let source = if real.is_some() {
        "real Postfix"
    } else {
        "golden replies"
    };
    let (mut replies, mut code_matches, mut text_diffs) = (0, 0, Vec::new());
    let mut failures = Vec::new();
    for (name, reference, ours) in &results {
        let n = reference.len().max(ours.len());
        for i in 0..n {
            replies += 1;
            let (r, o) = (
                reference.get(i).map(String::as_str).unwrap_or("<nothing>"),
                ours.get(i).map(String::as_str).unwrap_or("<nothing>"),
            );
            if codes(r) == codes(o) {
                code_matches += 1;
                if r != o {
                    text_diffs.push(format!("{name} #{i}: {source} {r:?} / smtpsim {o:?}"));
                }
            } else {
                failures.push(format!("{name} #{i}: {source} {r:?} / smtpsim {o:?}"));
            }
        }
    }
    eprintln!("parity against {source}: {} scripts, {code_matches}/{replies} replies match in code and enhanced code", results.len());
    for d in &text_diffs {
        eprintln!("  text differs: {d}");
    }
    assert!(
        failures.is_empty(),
        "code parity below 100%:\n{}",
        failures.join("\n")
    );
}
