//! The server session: bytes and time in, replies, deliveries and a close out. Limits,
//! timeouts and reply delays follow the [`ServerConfig`]; the async driver only moves bytes.
//!
//! Inputs: [`ServerSession::handle_input`], [`ServerSession::handle_eof`],
//! [`ServerSession::handle_timeout`]. Outputs: [`ServerSession::poll_event`] (events whose
//! time has come) and [`ServerSession::poll_timeout`] (when to call back).
//!
//! Modules: `config` (the knobs), `session` (a line read and dispatched), `transaction`
//! (MAIL/RCPT/DATA), `postfix` (the envelope as Postfix reads it), [`restrictions`]
//! (Postfix's HELO/sender/relay/recipient restrictions), `bdat`, `starttls`, `faults`
//! (injected faults), `log` (mail-log records and rejections).

mod bdat;
#[macro_use]
mod config;
mod faults;
mod log;
mod postfix;
pub mod restrictions;
mod session;
mod starttls;
mod transaction;

use bdat::{Bdat, Chunk};
pub use config::ServerConfig;
pub use faults::{ServerStage, StageFault};
use starttls::Tls;

use super::command::{Command, PathError, Verb};
use super::data::{DataEvent, DataReceiver};
use super::envelope;
use super::line::{Ending, LineBuffer, LineLimits, Overflow};
use super::maillog::{self, BdatWarning, LogRecord, SmtpdLog};
use super::outbox::Outbox;
use super::reply::Reply;
use super::Time;
use crate::proto::dur::Dur;
use std::sync::Arc;

/// A message the server took responsibility for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue id given in the 250 reply.
    pub queue_id: String,
    /// The HELO/EHLO name, if any.
    pub helo: Option<String>,
    /// Reverse-path.
    pub mail_from: String,
    /// Accepted recipients, in order.
    pub rcpt_to: Vec<String>,
    /// Unstuffed content (empty when the session streams content as it arrives).
    pub body: Vec<u8>,
    /// Content size in bytes.
    pub size: u64,
}

/// Something the server does, at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// Write this reply.
    Reply(Reply),
    /// A message was accepted (emitted just before its 250).
    Deliver(Delivery),
    /// Something worth a transcript line that is not on the wire (Postfix would log it).
    Note(String),
    /// What Postfix's smtpd would write to the mail log.
    Log(LogRecord),
    /// Close the connection.
    Close,
    /// Crash the whole server host now (an injected fault); restart after this long.
    Crash(Time),
    /// Streaming only: more content of the message being received.
    Content(Vec<u8>),
    /// Streaming only: the content received so far will not be delivered.
    Discard,
    /// The STARTTLS reply is out: run the TLS handshake now and report it with
    /// [`ServerSession::handle_tls`]. Nothing is read as SMTP until then.
    StartTls,
    /// Bytes sent in plaintext after STARTTLS, before the handshake: `executed` if the
    /// session then read them as commands inside TLS (CVE-2011-0411), else thrown away.
    Injected {
        /// What was pending.
        bytes: Vec<u8>,
        /// Read as protected commands.
        executed: bool,
    },
}

#[derive(Debug)]
enum State {
    Command,
    Data(DataReceiver),
    /// Reading the bytes of a BDAT chunk.
    Chunk(Chunk),
    Closed,
}

#[derive(Debug, Default)]
struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
    /// MAIL declared SMTPUTF8.
    smtputf8: bool,
    /// Assigned at the first accepted recipient, as Postfix opens its queue file then; with
    /// the time it was.
    queue_id: Option<(String, Time)>,
}

/// One SMTP server connection.
#[derive(Debug)]
pub struct ServerSession {
    cfg: Arc<ServerConfig>,
    local_domains: Vec<String>,
    client: String,
    lines: LineBuffer,
    state: State,
    helo: Option<String>,
    /// Everything after HELO/EHLO: Postfix's HELO name for its restrictions.
    helo_args: Option<String>,
    txn: Option<Transaction>,
    error_count: u32,
    junk_cmds: u32,
    size_refused: bool,
    /// Postfix's `msg_size`: the last SIZE declared, kept until RSET, HELO/EHLO or the end
    /// of a message, even when its MAIL was refused.
    declared_size: Option<u64>,
    bdat: Bdat,
    /// The chunks taken so far (kept only when not streaming) and their size.
    bdat_body: Vec<u8>,
    bdat_size: u64,
    outbox: Outbox<ServerEvent>,
    /// Last input or output; the idle timeout counts from here.
    last_activity: Time,
    queue_salt: u64,
    queued: u64,
    faults: Vec<(ServerStage, StageFault)>,
    /// Commands seen per stage (for [`StageFault::ReplyAt`]).
    stage_seen: [u32; 6],
    /// Added to the next reply's delay (an injected stall).
    extra_delay: Time,
    /// Hand content out as it arrives instead of keeping it (live mode, large messages).
    streaming: bool,
    log: SmtpdLog,
    tls: Tls,
}

impl ServerSession {
    /// A session for a new connection from `client` (an address for reply texts), accepted at
    /// `now`. The banner is queued at once. `queue_salt` makes queue ids unique per run.
    pub fn new(cfg: Arc<ServerConfig>, client: &str, now: Time, queue_salt: u64) -> Self {
        Self::with_faults(cfg, client, now, queue_salt, Vec::new())
    }

    /// As [`new`](Self::new), with injected faults for this session.
    pub fn with_faults(
        cfg: Arc<ServerConfig>,
        client: &str,
        now: Time,
        queue_salt: u64,
        faults: Vec<(ServerStage, StageFault)>,
    ) -> Self {
        let command_limits = LineLimits {
            max_len: cfg.line_length_limit,
            bare_lf_ends_line: cfg.bare_lf_ends_line,
            overflow: Overflow::Truncate,
        };
        let mut session = ServerSession {
            local_domains: cfg.local_domain_set(),
            lines: LineBuffer::new(command_limits),
            cfg,
            client: client.to_string(),
            state: State::Command,
            helo: None,
            helo_args: None,
            txn: None,
            error_count: 0,
            junk_cmds: 0,
            size_refused: false,
            declared_size: None,
            bdat: Bdat::None,
            bdat_body: Vec::new(),
            bdat_size: 0,
            outbox: Outbox::new(now),
            last_activity: now,
            queue_salt,
            queued: 0,
            faults,
            stage_seen: [0; 6],
            extra_delay: Time::ZERO,
            streaming: false,
            log: SmtpdLog::new(),
            tls: Tls::Plain,
        };
        let connect = LogRecord::Connect {
            client: session.client.clone(),
            server: session.cfg.hostname.clone(),
        };
        session.push(now, ServerEvent::Log(connect));
        if session.stage_fault(now, ServerStage::Connect).is_none() {
            let banner = session.cfg.reply_banner.clone();
            session.reply(now, &banner, &[]);
        }
        if session.is_closed() {
            session.log_end(now, None, 0);
        }
        session
    }

    /// Streams message content out as [`ServerEvent::Content`] as it arrives (memory stays
    /// flat whatever the message size); deliveries then carry an empty body.
    pub fn set_streaming(&mut self, on: bool) {
        self.streaming = on;
    }

    /// True once the session has closed (or decided to).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Bytes received from the client.
    pub fn handle_input(&mut self, now: Time, bytes: &[u8]) {
        if self.is_closed() {
            return;
        }
        if !self.cfg.per_record_deadline {
            self.last_activity = self.last_activity.max(now);
        }
        self.lines.push(bytes);
        while !self.is_closed() {
            if let State::Chunk(chunk) = &mut self.state {
                let bytes = self
                    .lines
                    .take_raw(usize::try_from(chunk.left).unwrap_or(usize::MAX));
                if bytes.is_empty() && chunk.left > 0 {
                    break;
                }
                chunk.left -= bytes.len() as u64;
                let (done, keep) = (chunk.left == 0, chunk.refusal.is_none());
                if keep && !bytes.is_empty() {
                    self.bdat_size += bytes.len() as u64;
                    for fragment in chunk.fragments(&bytes) {
                        if let Some(message_id) = self.log.chunk_content(&fragment) {
                            let queue_id = self.txn.as_ref().and_then(|t| t.queue_id.clone());
                            self.log_message_id(now, queue_id, message_id);
                        }
                    }
                    if self.streaming {
                        self.push(now, ServerEvent::Content(bytes));
                    } else {
                        self.bdat_body.extend_from_slice(&bytes);
                    }
                }
                if done {
                    let State::Chunk(chunk) = std::mem::replace(&mut self.state, State::Command)
                    else {
                        unreachable!()
                    };
                    self.end_of_chunk(now, chunk);
                }
                continue;
            }
            if self.tls == Tls::Handshake {
                break; // what follows STARTTLS waits for the handshake's outcome
            }
            let Some(line) = self.lines.next_line() else {
                break;
            };
            // Under a per-record deadline only a whole line buys more time.
            self.last_activity = self.last_activity.max(now);
            self.handle_line(now, line);
        }
        if self.is_closed() {
            self.log_end(now, None, 0);
        }
        if self.streaming {
            if let State::Data(data) = &mut self.state {
                let chunk = data.take_body();
                if !chunk.is_empty() {
                    self.push(now, ServerEvent::Content(chunk));
                }
            }
        }
    }

    /// The client closed its side (or the connection dropped): like QUIT without a reply.
    /// A message in progress is discarded, never delivered in part.
    pub fn handle_eof(&mut self, now: Time) {
        // Replies still waiting (an error delay, an injected stall) have nobody to go to.
        self.outbox.retain(now, |e| {
            !matches!(
                e,
                ServerEvent::Reply(_) | ServerEvent::Log(LogRecord::Reply(_))
            )
        });
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Data(data) => {
                if self.streaming {
                    self.push(now, ServerEvent::Discard);
                }
                self.push(
                    now,
                    ServerEvent::Note(format!(
                        "lost connection after DATA ({} bytes)",
                        data.size()
                    )),
                );
                self.log_end(now, Some(maillog::LOST_CONNECTION), data.size());
                self.push(now, ServerEvent::Close);
            }
            State::Chunk(chunk) => {
                if self.streaming {
                    self.push(now, ServerEvent::Discard);
                }
                let bytes = self.log.chunk_bytes(chunk.fragment.len());
                let note = format!("lost connection after BDAT ({bytes} bytes)");
                self.push(now, ServerEvent::Note(note));
                self.log_end(now, Some(maillog::LOST_CONNECTION), bytes);
                self.push(now, ServerEvent::Close);
            }
            State::Command => {
                let what = if self.lines.pending().is_empty() {
                    "lost connection"
                } else {
                    "lost connection mid-command"
                };
                self.push(now, ServerEvent::Note(what.to_string()));
                // Between BDAT chunks the log still counts the message's bytes.
                let bytes = self.log.chunk_bytes(0);
                self.log_end(now, Some(maillog::LOST_CONNECTION), bytes);
                self.push(now, ServerEvent::Close);
            }
            State::Closed => {}
        }
    }

    /// Call when `now` reaches [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Time) {
        if self.is_closed() || !self.outbox.is_empty() {
            return;
        }
        if now >= self.last_activity + self.cfg.timeout.0 {
            let text = self.cfg.reply_timeout.clone();
            let (note, bytes) = match &self.state {
                State::Data(data) => ("timeout after DATA", data.size()),
                State::Chunk(chunk) => (
                    "timeout after BDAT",
                    self.log.chunk_bytes(chunk.fragment.len()),
                ),
                _ => ("timeout", self.log.chunk_bytes(0)),
            };
            self.push(now, ServerEvent::Note(note.to_string()));
            self.reply(now, &text, &[]);
            self.log_end(now, Some(maillog::TIMEOUT), bytes);
            self.close(now);
        }
    }

    /// The next event due at or before `now`.
    pub fn poll_event(&mut self, now: Time) -> Option<ServerEvent> {
        let (at, event) = self.outbox.poll(now)?;
        self.last_activity = self.last_activity.max(at);
        Some(event)
    }

    /// When the session next needs attention: a delayed event or the idle timeout.
    pub fn poll_timeout(&self) -> Option<Time> {
        if let Some(at) = self.outbox.next_deadline() {
            return Some(at);
        }
        if self.is_closed() {
            return None;
        }
        Some(self.last_activity + self.cfg.timeout.0)
    }

    fn command_limits(&self) -> LineLimits {
        LineLimits {
            max_len: self.cfg.line_length_limit,
            bare_lf_ends_line: self.cfg.bare_lf_ends_line,
            overflow: Overflow::Truncate,
        }
    }

    /// A reply template with its variables filled in.
    fn expand(&self, template: &str, vars: &[(&str, &str)]) -> String {
        if !template.contains('{') {
            return template.to_string();
        }
        let mut text = template
            .replace("{host}", &self.cfg.hostname)
            .replace("{client}", &self.client);
        for (key, value) in vars {
            text = text.replace(&format!("{{{key}}}"), value);
        }
        text
    }

    /// Queues a reply from a template, delayed while the soft error limit is reached.
    fn reply(&mut self, now: Time, template: &str, vars: &[(&str, &str)]) {
        let text = self.expand(template, vars);
        let reply = Reply::from_template(&text)
            .unwrap_or_else(|| Reply::new(451, format!("4.3.0 bad reply template {text:?}")));
        let soft = self.cfg.soft_error_limit;
        let delay = if soft > 0 && self.error_count >= soft {
            self.cfg.error_sleep.0
        } else {
            Time::ZERO
        } + std::mem::take(&mut self.extra_delay);
        // The `smtpd -v` lines go out with the reply, after the same delay (the first one
        // carries it: the outbox keeps order, each push waits for the one before).
        let mut delay = Some(delay);
        for line in String::from_utf8_lossy(&reply.to_wire()).split_terminator("\r\n") {
            let record = ServerEvent::Log(LogRecord::Reply(line.to_string()));
            let wait = delay.take().unwrap_or(Time::ZERO);
            self.outbox.push_after(now, wait, record);
        }
        self.outbox
            .push_after(now, delay.unwrap_or(Time::ZERO), ServerEvent::Reply(reply));
    }

    fn push(&mut self, now: Time, event: ServerEvent) {
        self.outbox.push(now, event);
    }

    fn close(&mut self, now: Time) {
        self.state = State::Closed;
        self.push(now, ServerEvent::Close);
    }
}

/// A Postfix-looking queue id: ten upper-case hex digits, unique per (salt, n).
pub fn queue_id(salt: u64, n: u64) -> String {
    // splitmix64: a fixed bijection, so distinct n give distinct ids for one salt.
    let mut z = salt.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("{:010X}", z & 0xFF_FFFF_FFFF)
}
