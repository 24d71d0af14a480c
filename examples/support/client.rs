//! A small hand-written SMTP client on tokio, the kind a user brings to the simulation: one
//! connection per attempt, EHLO (HELO when EHLO is refused), one message per connection, and
//! a retry with doubling backoff after a 4xx, a timeout or a lost connection. After each
//! attempt it tells the oracle what it believes ([`Belief`]).
//!
//! [`send_all`] retries after a silence following the final dot like after any other failure;
//! [`send_all_careful`] retries too (as a client must) but tells the oracle it was in RFC
//! 1047's gap (the server may have the message), so a second copy is the duplicate SMTP
//! allows, not a bug.

use smtpsim::proto::client::{Message, Outcome, Stage, Status};
use smtpsim::sim::byo::{now, Belief, Client, Conn};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Attempts per message before giving up.
pub const ATTEMPTS: u32 = 4;
/// How long it waits for any reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait after the first failed attempt (doubling after each).
pub const BACKOFF: Duration = Duration::from_secs(60);

/// Why an attempt failed.
enum Failure {
    /// A 5xx: give up on this message.
    Permanent(String),
    /// A 4xx, or no connection: try again later.
    Transient(String),
    /// No reply (a timeout, a lost connection): try again later.
    Silent(String),
    /// No reply after the final dot: try again later, but the server may have it.
    Unconfirmed(String),
}

impl Failure {
    fn reason(self) -> String {
        match self {
            Failure::Permanent(r)
            | Failure::Transient(r)
            | Failure::Silent(r)
            | Failure::Unconfirmed(r) => r,
        }
    }
}

/// Sends every message of the world, each when it is due, retrying as above.
pub async fn send_all(client: Client) {
    send(client, false).await
}

/// [`send_all`], telling the oracle when an attempt ended in RFC 1047's gap.
pub async fn send_all_careful(client: Client) {
    send(client, true).await
}

async fn send(client: Client, careful: bool) {
    for message in client.messages().to_vec() {
        tokio::time::sleep(message.at.saturating_sub(now())).await;
        let mut wait = BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let failure = match attempt_once(&client, &message).await {
                Ok(()) => {
                    client.tell(message.id, Belief::Accepted);
                    break;
                }
                Err(Failure::Permanent(reason)) => {
                    client.tell(message.id, Belief::Bounced { reason });
                    break;
                }
                Err(failure) => failure,
            };
            let next = (attempt < ATTEMPTS).then(|| now() + wait);
            let in_gap = careful && matches!(failure, Failure::Unconfirmed(_));
            let reason = failure.reason();
            if in_gap {
                client.report(Outcome {
                    id: message.id,
                    status: Status::Deferred,
                    stage: Stage::DataDone,
                    reply: None,
                    reason: Some(reason),
                    to: Vec::new(),
                    refused: Vec::new(),
                    in_sync_gap: true,
                    retry_at: next,
                });
            } else if let Some(next_attempt) = next {
                client.tell(
                    message.id,
                    Belief::Deferred {
                        next_attempt,
                        reason,
                    },
                );
            } else {
                client.tell(message.id, Belief::GaveUp { reason });
            }
            if next.is_none() {
                break;
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
}

/// One connection, one try at `message`.
async fn attempt_once(client: &Client, message: &Message) -> Result<(), Failure> {
    let conn = client
        .connect()
        .await
        .map_err(|e| Failure::Transient(format!("connect: {e}")))?;
    let mut conn = BufReader::new(conn);
    expect(&mut conn, None, 2).await?;
    match expect(&mut conn, Some("EHLO tiny-client.example.net"), 2).await {
        Ok(()) => {}
        // Refused (a middlebox that masks EHLO, say): the old greeting.
        Err(Failure::Permanent(_)) => {
            expect(&mut conn, Some("HELO tiny-client.example.net"), 2).await?
        }
        Err(transient) => return Err(transient),
    }
    expect(&mut conn, Some(&format!("MAIL FROM:<{}>", message.from)), 2).await?;
    for to in &message.to {
        expect(&mut conn, Some(&format!("RCPT TO:<{to}>")), 2).await?;
    }
    expect(&mut conn, Some("DATA"), 3).await?;
    // The content and its final dot in one write: a middlebox that reads segments (the PIX)
    // holds back an end of data split across two.
    let mut data = Vec::new();
    for line in String::from_utf8_lossy(&message.body).lines() {
        if line.starts_with('.') {
            data.push(b'.');
        }
        data.extend_from_slice(line.as_bytes());
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".");
    let end = expect(&mut conn, Some(&String::from_utf8_lossy(&data)), 2).await;
    // Silence after the dot (no reply at all, not a 4xx): the server may have the message.
    end.map_err(|f| match f {
        Failure::Silent(r) => Failure::Unconfirmed(r),
        other => other,
    })?;
    let _ = expect(&mut conn, Some("QUIT"), 2).await;
    Ok(())
}

/// Sends `command` (if any) and reads the reply: `Ok` if its first digit is `class`.
async fn expect(
    conn: &mut BufReader<Conn>,
    command: Option<&str>,
    class: u8,
) -> Result<(), Failure> {
    let what = match command {
        None => "the banner".to_string(),
        Some(c) if c.ends_with("\r\n.") => "the end of data".to_string(),
        Some(c) => c.to_string(),
    };
    if let Some(command) = command {
        conn.write_all(format!("{command}\r\n").as_bytes())
            .await
            .map_err(|e| Failure::Silent(format!("{what}: {e}")))?;
    }
    let reply = tokio::time::timeout(REPLY_TIMEOUT, read_reply(conn))
        .await
        .map_err(|_| Failure::Silent(format!("{what}: no reply within {REPLY_TIMEOUT:?}")))?
        .map_err(|e| Failure::Silent(format!("{what}: {e}")))?;
    match reply.as_bytes().first() {
        Some(d) if *d == b'0' + class => Ok(()),
        Some(b'5') => Err(Failure::Permanent(format!("{what}: {reply}"))),
        _ => Err(Failure::Transient(format!("{what}: {reply}"))),
    }
}

/// One reply, its lines joined: reads until a line whose fourth character is a space.
async fn read_reply(conn: &mut BufReader<Conn>) -> std::io::Result<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end().to_string();
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return Ok(lines.join(" / "));
        }
    }
}
