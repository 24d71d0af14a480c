//! The parity script format and its player: an SMTP client session written as steps, played
//! over real TCP against any server, recorded as one normalised line per reply.
//!
//! One step per line:
//! - `> TEXT`  send TEXT + CRLF and read every reply owed so far (this one included);
//! - `+ TEXT`  send TEXT + CRLF, one reply owed, read later (pipelining);
//! - `. TEXT`  send TEXT + CRLF, no reply owed (message content);
//! - `~ BYTES` send raw bytes (escapes `\r \n \t \0 \\ \xHH`), one reply owed, read now;
//! - `= BYTES` send raw bytes, no reply owed;
//! - `! tls`   read every reply owed, then run a TLS handshake (accepting any certificate, as
//!   Postfix's `may` level does); the rest of the session goes inside TLS;
//! - `# ...`   a comment.
//!
//! `+`, `.` and `=` steps are written together with the next step that reads (one write, as
//! a pipelining client sends a group). After the last step the player waits briefly for more replies or the close. A reply owed
//! but not received within the wait is not an error: whatever comes later is read later, so
//! the recording is the same whenever the author counted owed replies too high or too low.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One thing the client does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// Replies these bytes are owed (0 or 1).
    pub owed: usize,
    /// Read every reply owed so far before the next step.
    pub read_now: bool,
    /// `! tls`: start TLS here (no bytes of its own).
    pub starttls: bool,
}

impl Step {
    /// `> TEXT`: a command, answered before the next step.
    pub fn command(text: &str) -> Step {
        Step::line(text, 1, true)
    }

    /// `+ TEXT`: a pipelined command.
    pub fn pipelined(text: &str) -> Step {
        Step::line(text, 1, false)
    }

    /// `. TEXT`: a line of message content.
    pub fn content(text: &str) -> Step {
        Step::line(text, 0, false)
    }

    /// `~` (owed 1) or `=` (owed 0): raw bytes.
    pub fn raw(bytes: &[u8], owed: usize) -> Step {
        Step {
            bytes: bytes.to_vec(),
            owed: owed.min(1),
            read_now: owed > 0,
            starttls: false,
        }
    }

    /// `! tls`: a TLS handshake.
    pub fn tls() -> Step {
        Step {
            bytes: Vec::new(),
            owed: 0,
            read_now: true,
            starttls: true,
        }
    }

    fn line(text: &str, owed: usize, read_now: bool) -> Step {
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        Step {
            bytes,
            owed,
            read_now,
            starttls: false,
        }
    }

    /// The step as a script line.
    pub fn render(&self) -> String {
        if self.starttls {
            return "! tls".to_string();
        }
        let text = self
            .bytes
            .strip_suffix(b"\r\n")
            .filter(|t| t.iter().all(|&b| (0x20..0x7f).contains(&b)))
            .map(|t| String::from_utf8_lossy(t).into_owned());
        match (text, self.owed, self.read_now) {
            (Some(t), 1, true) => format!("> {t}"),
            (Some(t), 1, false) => format!("+ {t}"),
            (Some(t), 0, false) => format!(". {t}"),
            (_, 0, _) => format!("= {}", escape(&self.bytes)),
            _ => format!("~ {}", escape(&self.bytes)),
        }
    }
}

/// Raw bytes as a `~`/`=` step writes them (as transcripts show them).
pub use crate::format::text::escape;

/// The bytes of a `~`/`=` step.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = text
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("column {}: \\x needs two hex digits", i + 1))?;
                out.push(hex);
                i += 2;
            }
            other => {
                return Err(format!(
                    "column {}: unknown escape \\{}",
                    i + 1,
                    other.map_or(String::new(), |&b| (b as char).to_string())
                ))
            }
        }
        i += 2;
    }
    Ok(out)
}

/// Reads a script; errors name the line.
pub fn parse(script: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (n, line) in script.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", n + 1);
        let op = line.as_bytes()[0];
        let rest = &line[1..];
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        steps.push(match op {
            b'>' => Step::command(rest),
            b'+' => Step::pipelined(rest),
            b'.' => Step::content(rest),
            b'~' => Step::raw(&unescape(rest).map_err(at)?, 1),
            b'=' => Step::raw(&unescape(rest).map_err(at)?, 0),
            b'!' if rest.trim() == "tls" => Step::tls(),
            _ => {
                return Err(at(format!(
                    "unknown step {line:?} (expected > + . ~ = ! tls or #)"
                )))
            }
        });
    }
    Ok(steps)
}

/// A whole script, one step a line.
pub fn render(steps: &[Step]) -> String {
    steps.iter().map(|s| s.render() + "\n").collect()
}

/// How long the player waits.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    /// For each reply owed.
    pub reply: Duration,
    /// After the last step, for more replies or the close.
    pub last: Duration,
}

/// The recording of a played script: one line per reply (multi-line replies joined by
/// `" | "`, queue ids normalised) and `[closed]` where the server hung up.
pub type Replies = Vec<String>;

/// The line recorded where the server closed the connection.
pub const CLOSED: &str = "[closed]";

/// The player's connection: plain TCP, or TLS over it after `! tls`.
enum Wire {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Wire {
    fn tcp(&self) -> &TcpStream {
        match self {
            Wire::Plain(s) => s,
            Wire::Tls(s) => &s.sock,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Wire::Plain(s) => s.write_all(bytes),
            Wire::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
        }
    }

    /// The TLS handshake (any certificate accepted); the wire is TLS afterwards.
    fn start_tls(self, wait: Duration) -> Result<Wire, String> {
        let Wire::Plain(tcp) = self else {
            return Err("TLS already on".into());
        };
        let cfg = crate::tls::client_config(
            crate::tls::Verify::Nothing,
            crate::tls::live_provider(),
            None,
            None,
        );
        let name = rustls::pki_types::ServerName::try_from("localhost")
            .expect("a valid name")
            .to_owned();
        let conn = rustls::ClientConnection::new(cfg, name).map_err(|e| e.to_string())?;
        let _ = tcp.set_read_timeout(Some(wait));
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| e.to_string())?;
        }
        Ok(Wire::Tls(Box::new(tls)))
    }
}

struct Conn {
    stream: Wire,
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    /// One reply, or None at EOF / when `wait` passes.
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
            if self.stream.tcp().set_read_timeout(Some(left)).is_err() {
                self.closed = true;
                return None;
            }
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

    /// Reads up to `owed` replies; false once the server closed.
    fn read_owed(&mut self, owed: &mut usize, wait: Duration, out: &mut Replies) -> bool {
        while *owed > 0 {
            match self.reply(wait) {
                Some(r) => {
                    out.push(normalise(&r));
                    *owed -= 1;
                }
                None if self.closed => return false,
                // Fewer replies than the script said: whatever comes is read later.
                None => *owed = 0,
            }
        }
        true
    }
}

/// Plays `steps` against `addr`. Err only when the connection cannot be made.
pub fn play(addr: &str, steps: &[Step], waits: Waits) -> Result<Replies, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream: Wire::Plain(stream),
        buf: Vec::new(),
        closed: false,
    };
    let mut out = Vec::new();
    let mut owed = 1; // the banner
    if !conn.read_owed(&mut owed, waits.reply, &mut out) {
        out.push(CLOSED.into());
        return Ok(out);
    }
    // Steps that read nothing go out with the next step that reads, in one write: a
    // pipelined group arrives together, so every server sees the same input waiting (and
    // logs the same improper pipelining).
    let mut unsent = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        unsent.extend_from_slice(&step.bytes);
        owed += step.owed;
        if !step.read_now && i + 1 < steps.len() {
            continue;
        }
        if conn.stream.write_all(&std::mem::take(&mut unsent)).is_err() {
            break;
        }
        if step.read_now && !conn.read_owed(&mut owed, waits.reply, &mut out) {
            break;
        }
        if step.starttls {
            // Plaintext already read past the 220 would be the server's injection: dropped.
            conn.buf.clear();
            let placeholder = Wire::Plain(clone_tcp(&conn)?);
            let wire = std::mem::replace(&mut conn.stream, placeholder);
            match wire.start_tls(waits.reply.max(Duration::from_secs(5))) {
                Ok(tls) => conn.stream = tls,
                Err(e) => {
                    out.push(format!("[TLS handshake failed: {e}]"));
                    conn.closed = true;
                    break;
                }
            }
        }
    }
    while let Some(r) = conn.reply(waits.last) {
        out.push(normalise(&r));
    }
    if conn.closed {
        out.push(CLOSED.into());
    }
    Ok(out)
}

/// A second handle on the connection's socket (a placeholder while the wire is swapped).
fn clone_tcp(conn: &Conn) -> Result<TcpStream, String> {
    conn.stream.tcp().try_clone().map_err(|e| e.to_string())
}

/// Queue ids differ from run to run; everything else is compared as is.
pub fn normalise(reply: &str) -> String {
    match reply.find("queued as ") {
        Some(i) => format!("{}queued as QUEUEID", &reply[..i]),
        None => reply.to_string(),
    }
}

/// Code and enhanced code of a recorded reply ([`CLOSED`] stays as is).
pub fn codes(line: &str) -> String {
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
