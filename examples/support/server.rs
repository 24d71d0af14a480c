//! A small hand-written SMTP server on tokio, the kind a user brings to the simulation: one
//! session per connection, line by line (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
//! dot-stuffing undone, every accepted message put in the simulation's [`Mailbox`].
//!
//! It comes in two versions that differ in one place, when a message is stored:
//! [`serve`] stores it before its 250, as RFC 5321 §6.1 wants; [`serve_lazy`] says 250 at
//! once and stores the session's messages when the client says QUIT, a durability bug that
//! a calm network never shows (QUIT always comes).

use smtpsim::sim::byo::{Conn, Mailbox};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long it waits for the client's next line before closing (Postfix waits 300 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(11);

/// The envelope of the transaction under way.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

/// A connection read line by line.
struct Lines {
    conn: Conn,
    buffer: Vec<u8>,
}

impl Lines {
    /// The next line with its line end (`None`: the peer closed, or the idle timeout passed).
    async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                return Some(self.buffer.drain(..=end).collect());
            }
            let mut chunk = [0u8; 4096];
            let read = tokio::time::timeout(IDLE_TIMEOUT, self.conn.read(&mut chunk));
            match read.await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(n)) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(_) => {
                    let _ = self.write(b"421 4.4.2 Error: timeout exceeded\r\n").await;
                    return None;
                }
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.conn.write_all(bytes).await
    }
}

/// Serves one connection until QUIT or the peer goes away.
pub async fn serve(conn: Conn, mailbox: Mailbox) {
    session(conn, mailbox, false).await
}

/// [`serve`] with the bug: messages stored only at QUIT, after their 250 went out.
pub async fn serve_lazy(conn: Conn, mailbox: Mailbox) {
    session(conn, mailbox, true).await
}

/// One session; `lazy`: store at QUIT (the bug).
async fn session(conn: Conn, mailbox: Mailbox, lazy: bool) {
    let mut conn = Lines {
        conn,
        buffer: Vec::new(),
    };
    let mut unsaved: Vec<(String, Vec<String>, Vec<u8>)> = Vec::new();
    let mut queued = 0;
    if conn.write(b"220 tiny.example.org ESMTP\r\n").await.is_err() {
        return;
    }
    let mut envelope = Envelope::default();
    while let Some(line) = conn.next().await {
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let verb = text.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => "250-tiny.example.org\r\n250 8BITMIME".to_string(),
            "HELO" => "250 tiny.example.org".to_string(),
            "MAIL" => match argument(&text, "MAIL FROM:") {
                Some(from) => {
                    envelope = Envelope {
                        from: Some(from),
                        to: Vec::new(),
                    };
                    "250 2.1.0 Ok".to_string()
                }
                None => "501 5.5.4 Syntax: MAIL FROM:<address>".to_string(),
            },
            "RCPT" => match (&envelope.from, argument(&text, "RCPT TO:")) {
                (None, _) => "503 5.5.1 Error: need MAIL command".to_string(),
                (Some(_), Some(to)) => {
                    envelope.to.push(to);
                    "250 2.1.5 Ok".to_string()
                }
                (Some(_), None) => "501 5.5.4 Syntax: RCPT TO:<address>".to_string(),
            },
            "DATA" if envelope.to.is_empty() => "554 5.5.1 Error: no valid recipients".to_string(),
            "DATA" => {
                if conn
                    .write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(body) = read_body(&mut conn).await else {
                    return;
                };
                let from = envelope.from.take().unwrap_or_default();
                let to = std::mem::take(&mut envelope.to);
                if lazy {
                    queued += 1;
                    unsaved.push((from, to, body));
                    format!("250 2.0.0 Ok: queued as L{queued}")
                } else {
                    let id = mailbox.store(&from, &to, &body);
                    format!("250 2.0.0 Ok: queued as {id}")
                }
            }
            "RSET" => {
                envelope = Envelope::default();
                "250 2.0.0 Ok".to_string()
            }
            "NOOP" => "250 2.0.0 Ok".to_string(),
            "QUIT" => {
                for (from, to, body) in unsaved.drain(..) {
                    mailbox.store(&from, &to, &body);
                }
                let _ = conn.write(b"221 2.0.0 Bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 Error: command not recognized".to_string(),
        };
        if conn.write(format!("{reply}\r\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The address in `MAIL FROM:<a>` or `RCPT TO:<a>` (parameters after it ignored).
fn argument(text: &str, prefix: &str) -> Option<String> {
    let head = text.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = text[prefix.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_string())
}

/// The message up to the line holding only `.`, dot-stuffing undone; `None` if the
/// connection ends first.
async fn read_body(conn: &mut Lines) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = conn.next().await?;
        if line == b".\r\n" || line == b".\n" {
            return Some(body);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        body.extend_from_slice(unstuffed);
    }
}
