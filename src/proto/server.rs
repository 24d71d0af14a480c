//! The server session: bytes and time in, replies, deliveries and a close out. Limits,
//! timeouts and reply delays follow the [`ServerConfig`]; the async driver only moves bytes.
//!
//! Inputs: [`ServerSession::handle_input`], [`ServerSession::handle_eof`],
//! [`ServerSession::handle_timeout`]. Outputs: [`ServerSession::poll_event`] (events whose
//! time has come) and [`ServerSession::poll_timeout`] (when to call back).

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

/// Where in a server session an application fault fires.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ServerStage {
    /// The banner.
    Connect,
    /// HELO/EHLO.
    Helo,
    /// MAIL.
    Mail,
    /// RCPT.
    Rcpt,
    /// DATA.
    Data,
    /// The final '.'.
    Dot,
}

impl ServerStage {
    /// Every stage, in the order a session meets them.
    pub const ALL: [ServerStage; 6] = [
        ServerStage::Connect,
        ServerStage::Helo,
        ServerStage::Mail,
        ServerStage::Rcpt,
        ServerStage::Data,
        ServerStage::Dot,
    ];
}

config! {
    $
    /// Everything a server session does that a scenario may change.
    pub struct ServerConfig at crate::proto::server::ServerConfig, fields: server_config_fields {
        /// Name in the banner and replies.
        pub hostname: String,
        /// Local mailboxes (full addresses); recipients in local domains not listed are unknown users.
        /// Empty: every local address exists.
        pub mailboxes: Vec<String>,
        /// Domains delivered locally, besides `hostname` and the domains of `mailboxes`;
        /// `"*"`: every domain (what `serve` uses when neither this nor `mailboxes` is set).
        pub local_domains: Vec<String>,
        /// A bare `HELO`/`EHLO` gets the syntax error (false: accepted).
        pub helo_requires_name: bool,
        /// MAIL before HELO/EHLO gets `reply_need_helo`.
        pub helo_required: bool,
        /// EHLO keywords after the greeting line, in order (`{size_limit}` allowed).
        pub ehlo_keywords: Vec<String>,
        /// Idle time waiting for a command or data before `reply_timeout` and close.
        pub timeout: crate::proto::dur::Dur,
        /// `timeout` bounds the time to receive a whole line, not the silence between bytes,
        /// so a client sending a byte at a time is cut too (Postfix's
        /// `smtpd_per_record_deadline`, on when Postfix is under stress).
        pub per_record_deadline: bool,
        /// NOOP, RSET, VRFY, ETRN, HELO, EHLO beyond this many count as errors (0: no limit).
        pub junk_command_limit: u32,
        /// From this many errors on, every reply is delayed by `error_sleep` (0: never).
        pub soft_error_limit: u32,
        /// At this many errors the server sends `reply_too_many_errors` and closes (0: never).
        pub hard_error_limit: u32,
        /// Delay per reply once the soft error limit is reached.
        pub error_sleep: crate::proto::dur::Dur,
        /// Most recipients per message.
        pub recipient_limit: u32,
        /// Largest message in bytes (also announced as SIZE).
        pub message_size_limit: u64,
        /// Longest command or content line kept; longer command lines are cut (Postfix) or rejected.
        pub line_length_limit: usize,
        /// Over-long command lines get `reply_line_too_long` instead of being cut.
        pub reject_long_lines: bool,
        /// A bare LF ends a line, in commands and in message content.
        pub bare_lf_ends_line: bool,
        /// Header-like lines (`Subject:`), CONNECT/GET/POST and lines starting with a non-letter
        /// get `reply_break_rules` and a disconnect.
        pub hang_up_on_non_smtp: bool,
        /// Once a MAIL was refused for its SIZE, later MAIL commands are refused too (Postfix).
        pub size_refusal_sticks: bool,
        /// MAIL, RCPT and VRFY arguments are read as Postfix reads them: its tokenizer, RFC 822
        /// address extraction, trivial-rewrite's resolution (`%` and `!` routing, quoted local
        /// parts), its ESMTP parameters; `postmaster` and `MAILER-DAEMON` always exist.
        pub postfix_envelope: bool,
        /// Until this time from the start, the queue has no room: every MAIL gets
        /// `reply_storage_full` (Postfix's `queue_minfree` check; 0: never).
        pub storage_full_until: crate::proto::dur::Dur,
        /// Banner.
        pub reply_banner: String,
        /// HELO accepted.
        pub reply_helo: String,
        /// HELO without a name.
        pub reply_helo_syntax: String,
        /// EHLO without a name.
        pub reply_ehlo_syntax: String,
        /// MAIL before HELO when `helo_required`.
        pub reply_need_helo: String,
        /// MAIL accepted.
        pub reply_mail_ok: String,
        /// MAIL inside a transaction.
        pub reply_mail_nested: String,
        /// MAIL without `FROM:`.
        pub reply_mail_syntax: String,
        /// MAIL with a malformed address.
        pub reply_mail_bad_address: String,
        /// MAIL with SIZE over the limit.
        pub reply_size_exceeded: String,
        /// MAIL while the queue has no room (`storage_full_until`).
        pub reply_storage_full: String,
        /// RCPT accepted.
        pub reply_rcpt_ok: String,
        /// RCPT before MAIL.
        pub reply_need_mail: String,
        /// RCPT without `TO:`.
        pub reply_rcpt_syntax: String,
        /// RCPT with a malformed address.
        pub reply_rcpt_bad_address: String,
        /// RCPT for a local address not in `mailboxes`.
        pub reply_unknown_user: String,
        /// RCPT for a non-local domain.
        pub reply_relay_denied: String,
        /// RCPT beyond `recipient_limit`.
        pub reply_too_many_recipients: String,
        /// DATA with no transaction.
        pub reply_need_rcpt: String,
        /// DATA when every RCPT was refused.
        pub reply_no_valid_recipients: String,
        /// DATA with an argument.
        pub reply_data_syntax: String,
        /// DATA accepted.
        pub reply_data_go: String,
        /// Message accepted.
        pub reply_queued: String,
        /// A BDAT chunk (RFC 3030) taken, `{size}` its bytes (empty: BDAT is an unknown
        /// command). The other BDAT replies are Postfix's.
        pub reply_bdat_ok: String,
        /// A message ended by `BDAT n LAST` accepted (`{size}`: its bytes).
        pub reply_bdat_queued: String,
        /// Message over `message_size_limit`.
        pub reply_message_too_big: String,
        /// RSET.
        pub reply_rset: String,
        /// RSET with an argument.
        pub reply_rset_syntax: String,
        /// NOOP.
        pub reply_noop: String,
        /// QUIT.
        pub reply_quit: String,
        /// VRFY of a known local address.
        pub reply_vrfy: String,
        /// VRFY without an argument.
        pub reply_vrfy_syntax: String,
        /// STARTTLS accepted: the TLS handshake follows (RFC 3207).
        pub reply_starttls: String,
        /// STARTTLS with an argument.
        pub reply_starttls_syntax: String,
        /// STARTTLS inside TLS.
        pub reply_tls_active: String,
        /// STARTTLS when this server has no TLS (live `serve` without `--tls`); STARTTLS is
        /// then not offered either (empty: STARTTLS is an unknown command).
        pub reply_starttls_disabled: String,
        /// Bytes the client sent after STARTTLS and before the handshake are thrown away
        /// (Postfix 2.8.4 and later); false: they are read as if they came inside TLS, the
        /// plaintext command injection of CVE-2011-0411.
        pub tls_discard_pipelined: bool,
        /// ETRN without a domain (empty: ETRN is an unknown command).
        pub reply_etrn_syntax: String,
        /// ETRN for a domain (no fast flush service configured).
        pub reply_etrn_unavailable: String,
        /// ETRN inside a mail transaction.
        pub reply_etrn_in_transaction: String,
        /// AUTH (no SASL configured).
        pub reply_auth: String,
        /// XCLIENT or XFORWARD from a client not allowed to use them (empty: unknown commands).
        pub reply_xclient_denied: String,
        /// XCLIENT or XFORWARD inside a mail transaction.
        pub reply_xclient_in_transaction: String,
        /// Unknown command.
        pub reply_unknown: String,
        /// Empty or whitespace-only line.
        pub reply_bad_syntax: String,
        /// Over-long line when `reject_long_lines`.
        pub reply_line_too_long: String,
        /// Idle timeout.
        pub reply_timeout: String,
        /// Hard error limit.
        pub reply_too_many_errors: String,
        /// Non-SMTP input when `hang_up_on_non_smtp`.
        pub reply_break_rules: String,
    }
}

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

/// Where a server session is with TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls {
    /// STARTTLS is not available (no certificate).
    Unavailable,
    /// Plaintext; STARTTLS is offered if the profile lists it.
    Plain,
    /// The 220 went out; the handshake is running.
    Handshake,
    /// Inside TLS.
    Active,
}

/// An injected application fault at one stage of a session (each fires once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageFault {
    /// Answer with this reply instead of doing the stage's work (421 also closes).
    Reply(String),
    /// The same, at the `nth` command of that stage in the session only (e.g. the second RCPT).
    ReplyAt {
        /// Which command of the stage, from 1.
        nth: u32,
        /// The reply.
        text: String,
    },
    /// Do the work but delay the reply by this long.
    Delay(Time),
    /// At the final '.': queue the message, then crash before the 250.
    CrashAfterDot(Time),
}

#[derive(Debug)]
enum State {
    Command,
    Data(DataReceiver),
    /// Reading the bytes of a BDAT chunk.
    Chunk(Chunk),
    Closed,
}

/// A BDAT chunk being read.
#[derive(Debug)]
struct Chunk {
    /// Bytes still to come.
    left: u64,
    /// Its size.
    size: u64,
    /// `BDAT n LAST`.
    last: bool,
    /// Read and thrown away, then answered with this.
    refusal: Option<String>,
    /// The bytes of the fragment being read: Postfix reads a chunk in fragments of up to
    /// 4096 bytes and reads its lines (for the log's Message-ID) only out of whole ones.
    fragment: Vec<u8>,
    /// The size of that fragment.
    fragment_size: usize,
}

impl Chunk {
    /// Takes `bytes` (just read; `left` already counts them out): the fragments they complete.
    fn fragments(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        const FRAGMENT: u64 = 4096;
        let mut done = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.fragment.is_empty() {
                let remaining = self.left + rest.len() as u64;
                self.fragment_size = remaining.min(FRAGMENT) as usize;
            }
            let take = (self.fragment_size - self.fragment.len()).min(rest.len());
            self.fragment.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.fragment.len() == self.fragment_size {
                done.push(std::mem::take(&mut self.fragment));
            }
        }
        done
    }
}

/// Postfix's `bdat_state`: a message arriving in BDAT chunks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Bdat {
    #[default]
    None,
    /// Chunks are being taken.
    Receiving,
    /// A chunk was refused: the rest are thrown away until `BDAT n LAST`.
    Failed,
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

impl ServerConfig {
    /// Lower-cased domains delivered locally.
    pub fn local_domain_set(&self) -> Vec<String> {
        let mut domains: Vec<String> = vec![self.hostname.to_ascii_lowercase()];
        domains.extend(self.local_domains.iter().map(|d| d.to_ascii_lowercase()));
        for mailbox in &self.mailboxes {
            if let Some((_, d)) = mailbox.rsplit_once('@') {
                domains.push(d.to_ascii_lowercase());
            }
        }
        domains.sort();
        domains.dedup();
        domains
    }
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

    /// Applies the injected faults for `stage`: every pending delay, then a pending reply.
    /// `Some(false)`: the fault answered instead of the stage (an error); `None`: carry on
    /// (maybe with a delay).
    fn stage_fault(&mut self, now: Time, stage: ServerStage) -> Option<bool> {
        let seen = &mut self.stage_seen[stage as usize];
        *seen += 1;
        let seen = *seen;
        while let Some(i) = self
            .faults
            .iter()
            .position(|(s, f)| *s == stage && matches!(f, StageFault::Delay(_)))
        {
            if let (_, StageFault::Delay(d)) = self.faults.remove(i) {
                self.push(
                    now,
                    ServerEvent::Note(format!("fault: {stage:?} reply delayed by {}", Dur(d))),
                );
                self.extra_delay += d;
            }
        }
        let i = self.faults.iter().position(|(s, f)| {
            *s == stage
                && match f {
                    StageFault::Reply(_) => true,
                    StageFault::ReplyAt { nth, .. } => *nth == seen,
                    _ => false,
                }
        })?;
        let (StageFault::Reply(text) | StageFault::ReplyAt { text, .. }) = self.faults.remove(i).1
        else {
            unreachable!("matched above")
        };
        self.push(
            now,
            ServerEvent::Note(format!("fault: answering {stage:?} with {text:?}")),
        );
        let closes = text.starts_with("421");
        self.reply(now, &text, &[]);
        if closes {
            self.close(now);
        }
        Some(false)
    }

    /// Streams message content out as [`ServerEvent::Content`] as it arrives (memory stays
    /// flat whatever the message size); deliveries then carry an empty body.
    pub fn set_streaming(&mut self, on: bool) {
        self.streaming = on;
    }

    /// Whether this server can start TLS (it has a certificate). Without it STARTTLS is not
    /// offered and is answered `reply_starttls_disabled`. Sessions start with TLS available.
    pub fn set_tls_available(&mut self, available: bool) {
        if matches!(self.tls, Tls::Plain | Tls::Unavailable) {
            self.tls = if available {
                Tls::Plain
            } else {
                Tls::Unavailable
            };
        }
    }

    /// True inside TLS.
    pub fn tls_active(&self) -> bool {
        self.tls == Tls::Active
    }

    /// The handshake that [`ServerEvent::StartTls`] asked for is done: `Ok` inside TLS (the
    /// session starts over as after the banner, RFC 3207 §4.2), `Err` with why it failed
    /// (the connection is closed, as Postfix's smtpd does).
    pub fn handle_tls(&mut self, now: Time, result: Result<(), String>) {
        if self.tls != Tls::Handshake || self.is_closed() {
            return;
        }
        self.last_activity = self.last_activity.max(now);
        if let Err(why) = result {
            self.push(
                now,
                ServerEvent::Note(format!("TLS handshake failed: {why}")),
            );
            self.log_end(now, Some(maillog::LOST_CONNECTION), 0);
            self.close(now);
            return;
        }
        self.tls = Tls::Active;
        let pending = self.lines.take_raw(usize::MAX);
        if pending.is_empty() {
            return;
        }
        let executed = !self.cfg.tls_discard_pipelined;
        self.push(
            now,
            ServerEvent::Injected {
                bytes: pending.clone(),
                executed,
            },
        );
        if executed {
            self.handle_input(now, &pending);
        }
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

    fn handle_line(&mut self, now: Time, line: super::line::Line) {
        if let State::Data(data) = &mut self.state {
            let event = data.handle_line(&line);
            if event == DataEvent::Content {
                let whole = line.ending != Ending::Cut;
                if let Some(message_id) = self.log.content_line(&line.bytes, whole) {
                    let queue_id = self.txn.as_ref().and_then(|t| t.queue_id.clone());
                    self.log_message_id(now, queue_id, message_id);
                }
            }
            if let DataEvent::End(end) = event {
                if end.is_nonstandard() {
                    let note = format!(
                        "end of data by a non-standard sequence ({:?} then \".\" {:?})",
                        end.before, end.after
                    );
                    self.push(now, ServerEvent::Note(note));
                }
                let State::Data(data) = std::mem::replace(&mut self.state, State::Command) else {
                    unreachable!()
                };
                self.lines.set_limits(self.command_limits());
                self.end_of_data(now, data);
            }
            return;
        }
        self.log_command_line(now, &line);
        if line.ending == Ending::Cut && self.cfg.reject_long_lines {
            let text = self.cfg.reply_line_too_long.clone();
            self.reply(now, &text, &[]);
            self.error_count += 1;
            self.check_error_limit(now);
            return;
        }
        // Postfix reads a command as a C string: a NUL ends it.
        let bytes = match line.bytes.iter().position(|&b| b == 0) {
            Some(nul) if self.cfg.postfix_envelope => &line.bytes[..nul],
            _ => &line.bytes[..],
        };
        let Some(command) = Command::parse(bytes) else {
            let text = self.cfg.reply_bad_syntax.clone();
            self.reply(now, &text, &[]);
            self.error_count += 1;
            self.check_error_limit(now);
            return;
        };
        // The rest of a line cut at the limit is skipped, not pending (Postfix's smtp_get).
        let pending = match line.ending {
            Ending::Cut => {
                let rest = self.lines.pending();
                rest.iter()
                    .position(|&b| b == b'\n')
                    .map_or(Vec::new(), |i| rest[i + 1..].to_vec())
            }
            _ => self.lines.pending().to_vec(),
        };
        let (counted, improper) = self.log.command(command.verb.name(), &pending);
        if let Some(record) = improper {
            self.push(now, ServerEvent::Log(record));
        }
        if self.cfg.hang_up_on_non_smtp && is_non_smtp(&command) {
            let text = self.cfg.reply_break_rules.clone();
            let escaped = maillog::escape(&line.bytes);
            let shown = escaped.chars().take(100).collect();
            self.push(now, ServerEvent::Log(LogRecord::NonSmtp(shown)));
            self.push(
                now,
                ServerEvent::Note(format!(
                    "non-SMTP command: {}",
                    String::from_utf8_lossy(&line.bytes)
                )),
            );
            self.reply(now, &text, &[]);
            self.close(now);
            return;
        }
        if command.verb == Verb::Bdat
            && command.bdat().is_none()
            && !self.cfg.reply_bdat_ok.is_empty()
        {
            let line = maillog::printable(bytes).chars().take(100).collect();
            self.log_bdat_warning(now, BdatWarning::Malformed(line));
        }
        let ok = self.dispatch(now, &command);
        self.log.result(counted, ok);
        if !ok {
            self.error_count += 1;
        }
        let junk = matches!(
            command.verb,
            Verb::Helo | Verb::Ehlo | Verb::Noop | Verb::Vrfy | Verb::Etrn | Verb::Rset
        );
        if junk && self.cfg.junk_command_limit > 0 {
            if self.junk_cmds > self.cfg.junk_command_limit {
                self.error_count += 1;
            }
            self.junk_cmds += 1;
        }
        self.check_error_limit(now);
    }

    fn check_error_limit(&mut self, now: Time) {
        if self.is_closed()
            || self.cfg.hard_error_limit == 0
            || self.error_count < self.cfg.hard_error_limit
        {
            return;
        }
        let text = self.cfg.reply_too_many_errors.clone();
        self.push(
            now,
            ServerEvent::Note(format!("too many errors ({})", self.error_count)),
        );
        self.reply(now, &text, &[]);
        self.log_end(now, Some(maillog::TOO_MANY_ERRORS), 0);
        self.close(now);
    }

    /// Runs one command; false if it counts as an error.
    fn dispatch(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let stage = match command.verb {
            Verb::Helo | Verb::Ehlo => Some(ServerStage::Helo),
            Verb::Mail => Some(ServerStage::Mail),
            Verb::Rcpt => Some(ServerStage::Rcpt),
            Verb::Data => Some(ServerStage::Data),
            _ => None,
        };
        if let Some(result) = stage.and_then(|stage| self.stage_fault(now, stage)) {
            return result;
        }
        match &command.verb {
            Verb::Helo | Verb::Ehlo => {
                let name = command.args.split_whitespace().next();
                if name.is_none() && cfg.helo_requires_name {
                    let text = if command.verb == Verb::Helo {
                        &cfg.reply_helo_syntax
                    } else {
                        &cfg.reply_ehlo_syntax
                    };
                    self.reply(now, text, &[]);
                    return false;
                }
                self.helo = Some(name.unwrap_or("").to_string());
                self.reset_transaction(now);
                if command.verb == Verb::Ehlo {
                    let size = cfg.message_size_limit.to_string();
                    let mut text = cfg.reply_helo.clone();
                    let offer_tls = self.tls == Tls::Plain;
                    for keyword in &cfg.ehlo_keywords {
                        if !offer_tls && keyword.eq_ignore_ascii_case("STARTTLS") {
                            continue;
                        }
                        text.push('\n');
                        text.push_str(&keyword.replace("{size_limit}", &size));
                    }
                    self.reply(now, &text, &[]);
                } else {
                    self.reply(now, &cfg.reply_helo, &[]);
                }
                true
            }
            Verb::Bdat if !cfg.reply_bdat_ok.is_empty() => self.bdat(now, command),
            Verb::Mail => self.mail(now, command),
            Verb::Rcpt => self.rcpt(now, command),
            Verb::Data => self.data(now, command),
            Verb::Rset => {
                if !command.args.is_empty() {
                    self.reply(now, &cfg.reply_rset_syntax, &[]);
                    return false;
                }
                self.reset_transaction(now);
                self.reply(now, &cfg.reply_rset, &[]);
                true
            }
            Verb::Noop => {
                self.reply(now, &cfg.reply_noop, &[]);
                true
            }
            Verb::Quit => {
                self.reply(now, &cfg.reply_quit, &[]);
                self.close(now);
                true
            }
            Verb::Vrfy => {
                let arg = command
                    .args
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string();
                if arg.is_empty() {
                    self.reply(now, &cfg.reply_vrfy_syntax, &[]);
                    return false;
                }
                if cfg.postfix_envelope {
                    return self.postfix_vrfy(now, command);
                }
                self.check_recipient(now, &arg, &cfg.reply_vrfy, false)
            }
            Verb::StartTls
                if cfg
                    .ehlo_keywords
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case("STARTTLS")) =>
            {
                self.starttls(now, command)
            }
            Verb::Etrn if !cfg.reply_etrn_syntax.is_empty() => {
                let domain = command.args.split_whitespace().next().unwrap_or("");
                let text = if self.txn.is_some() {
                    &cfg.reply_etrn_in_transaction
                } else if domain.is_empty() {
                    &cfg.reply_etrn_syntax
                } else {
                    self.push(
                        now,
                        ServerEvent::Log(LogRecord::EtrnRefused(
                            domain.trim_start_matches(['@', '#']).to_string(),
                        )),
                    );
                    &cfg.reply_etrn_unavailable
                };
                self.reply(
                    now,
                    text,
                    &[("addr", domain.trim_start_matches(['@', '#']))],
                );
                false
            }
            Verb::Other(name)
                if (name == "XCLIENT" || name == "XFORWARD")
                    && !cfg.reply_xclient_denied.is_empty() =>
            {
                let text = if self.txn.is_some() {
                    &cfg.reply_xclient_in_transaction
                } else {
                    &cfg.reply_xclient_denied
                };
                self.reply(now, text, &[]);
                false
            }
            Verb::Auth if !cfg.ehlo_keywords.is_empty() => {
                self.reply(now, &cfg.reply_auth, &[]);
                false
            }
            _ => {
                self.reply(now, &cfg.reply_unknown, &[]);
                false
            }
        }
    }

    fn mail(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        if cfg.helo_required && self.helo.is_none() {
            self.reply(now, &cfg.reply_need_helo, &[]);
            return false;
        }
        if cfg.postfix_envelope {
            // Postfix forgets SMTPUTF8 at every MAIL, a refused nested one included.
            if let Some(txn) = self.txn.as_mut() {
                txn.smtputf8 = false;
            }
        }
        if self.txn.is_some() {
            self.reply(now, &cfg.reply_mail_nested, &[]);
            return false;
        }
        if self.bdat != Bdat::None {
            self.reply(now, "503 5.5.1 Error: MAIL after BDAT", &[]);
            return false;
        }
        if cfg.postfix_envelope {
            return self.postfix_mail(now, command);
        }
        let path = match command.path() {
            Ok(p) => p,
            Err(PathError::Syntax) => {
                self.reply(now, &cfg.reply_mail_syntax, &[]);
                return false;
            }
            Err(PathError::BadAddress) => {
                self.reply(now, &cfg.reply_mail_bad_address, &[]);
                return false;
            }
        };
        let declared: Option<u64> = path.param("SIZE").and_then(|s| s.parse().ok());
        if self.size_refused || declared.is_some_and(|size| size > cfg.message_size_limit) {
            self.size_refused |= cfg.size_refusal_sticks;
            self.reject(now, &cfg.reply_size_exceeded, Some(&path.address), None);
            return false;
        }
        if now < cfg.storage_full_until.0 {
            self.reject(now, &cfg.reply_storage_full, Some(&path.address), None);
            return false;
        }
        self.txn = Some(Transaction {
            mail_from: path.address,
            ..Default::default()
        });
        self.reply(now, &cfg.reply_mail_ok, &[]);
        true
    }

    fn rcpt(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        if self.txn.is_none() {
            self.reply(now, &cfg.reply_need_mail, &[]);
            return false;
        }
        if self.bdat != Bdat::None {
            self.reply(now, "503 5.5.1 Error: RCPT after BDAT", &[]);
            return false;
        }
        if cfg.postfix_envelope {
            return self.postfix_rcpt(now, command);
        }
        let path = match command.path() {
            Ok(p) => p,
            Err(PathError::Syntax) => {
                self.reply(now, &cfg.reply_rcpt_syntax, &[]);
                return false;
            }
            Err(PathError::BadAddress) => {
                self.reply(now, &cfg.reply_rcpt_bad_address, &[]);
                return false;
            }
        };
        if path.address.is_empty() {
            self.reply(now, &cfg.reply_rcpt_bad_address, &[]);
            return false;
        }
        let txn = self.txn.as_ref().expect("checked above");
        if txn.rcpt_to.len() as u32 >= cfg.recipient_limit {
            self.reply(now, &cfg.reply_too_many_recipients, &[]);
            return false;
        }
        let ok = self.check_recipient(now, &path.address, &cfg.reply_rcpt_ok, true);
        if ok {
            self.txn
                .as_mut()
                .expect("checked above")
                .rcpt_to
                .push(path.address);
        }
        ok
    }

    /// Local and known: reply `ok`; local and unknown: unknown user; else relay denied.
    /// `opens_queue`: a recipient of the transaction (RCPT, not VRFY): the first accepted one
    /// opens the queue file and gets the message its queue id, as in Postfix.
    fn check_recipient(&mut self, now: Time, address: &str, ok: &str, opens_queue: bool) -> bool {
        let cfg = self.cfg.clone();
        let (local_part, domain) = match address.rsplit_once('@') {
            Some((l, d)) => (l.to_ascii_lowercase(), d.to_ascii_lowercase()),
            None => (
                address.to_ascii_lowercase(),
                cfg.hostname.to_ascii_lowercase(),
            ),
        };
        let routed = local_part.contains(['%', '!', '@']);
        let local = self.local_domains.iter().any(|d| *d == domain || d == "*");
        if routed || !local {
            let sender = self.txn.as_ref().map(|t| t.mail_from.clone());
            self.reject(
                now,
                &cfg.reply_relay_denied,
                sender.as_deref(),
                Some(address),
            );
            return false;
        }
        let known = cfg.mailboxes.is_empty()
            || cfg.mailboxes.iter().any(|m| {
                m.rsplit_once('@')
                    .map_or(m.as_str(), |(l, _)| l)
                    .eq_ignore_ascii_case(&local_part)
            });
        if !known {
            let sender = self.txn.as_ref().map(|t| t.mail_from.clone());
            self.reject(
                now,
                &cfg.reply_unknown_user,
                sender.as_deref(),
                Some(address),
            );
            return false;
        }
        if opens_queue {
            self.open_queue(now);
        }
        self.reply(now, ok, &[("addr", address)]);
        true
    }

    fn data(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        if self.bdat != Bdat::None {
            self.reply(now, "503 5.5.1 Error: DATA after BDAT", &[]);
            return false;
        }
        let Some(txn) = &self.txn else {
            self.reply(now, &cfg.reply_need_rcpt, &[]);
            return false;
        };
        if txn.rcpt_to.is_empty() {
            // Postfix: a transaction without an accepted recipient gets 554, refused or not.
            self.reply(now, &cfg.reply_no_valid_recipients, &[]);
            return false;
        }
        if !command.args.is_empty() {
            self.reply(now, &cfg.reply_data_syntax, &[]);
            return false;
        }
        self.reply(now, &cfg.reply_data_go, &[]);
        self.lines.set_limits(LineLimits {
            max_len: cfg.line_length_limit,
            bare_lf_ends_line: cfg.bare_lf_ends_line,
            overflow: Overflow::Split,
        });
        // Keep one byte more than the limit so an oversized message is recognised.
        let keep = if self.streaming {
            None
        } else {
            Some(cfg.message_size_limit + 1)
        };
        self.state = State::Data(DataReceiver::new(keep));
        self.log.content_started();
        true
    }

    fn end_of_data(&mut self, now: Time, mut data: DataReceiver) {
        let cfg = self.cfg.clone();
        if self.streaming {
            let rest = data.take_body();
            if !rest.is_empty() {
                self.push(now, ServerEvent::Content(rest));
            }
        }
        let size = data.size();
        let (headers_ended, logged_size) = self.log.content_ended(size);
        if let Some(message_id) = headers_ended {
            let queue_id = self.txn.as_ref().and_then(|t| t.queue_id.clone());
            self.log_message_id(now, queue_id, message_id);
        }
        if size > cfg.message_size_limit {
            self.reset_transaction(now);
            if self.streaming {
                self.push(now, ServerEvent::Discard);
            }
            self.reply(now, &cfg.reply_message_too_big, &[]);
            self.log.message_done(false);
            self.error_count += 1;
            return;
        }
        let template = cfg.reply_queued.clone();
        let body = data.into_body();
        self.queue_message(now, (body, size, logged_size), &template, "");
    }

    /// Postfix's `mail_reset`: the transaction, a declared SIZE and BDAT chunks are forgotten.
    /// STARTTLS as Postfix's smtpd takes it: syntax, TLS already on, no TLS here; else 220,
    /// forget HELO and the transaction, and hand over to the handshake.
    fn starttls(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let refusal = if !command.args.trim().is_empty() {
            &cfg.reply_starttls_syntax
        } else if self.tls == Tls::Active {
            &cfg.reply_tls_active
        } else if self.tls == Tls::Unavailable {
            if cfg.reply_starttls_disabled.is_empty() {
                &cfg.reply_unknown
            } else {
                &cfg.reply_starttls_disabled
            }
        } else {
            self.reply(now, &cfg.reply_starttls, &[]);
            self.helo = None;
            self.reset_transaction(now);
            self.tls = Tls::Handshake;
            self.push(now, ServerEvent::StartTls);
            return true;
        };
        self.reply(now, refusal, &[]);
        false
    }

    fn reset_transaction(&mut self, now: Time) {
        if self.bdat == Bdat::Receiving && self.streaming {
            self.push(now, ServerEvent::Discard);
        }
        self.txn = None;
        self.declared_size = None;
        self.bdat = Bdat::None;
        self.bdat_body.clear();
        self.bdat_size = 0;
    }

    /// BDAT as Postfix 3.7 takes it: the chunk is always read; refusals come after it.
    fn bdat(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let Some((size, last)) = command.bdat() else {
            self.reply(now, "521 5.5.4 Syntax: BDAT count [LAST]", &[]);
            self.close(now);
            return false;
        };
        let refusal = if size == 0 && !last {
            self.log_bdat_warning(now, BdatWarning::Null);
            Some("551 5.7.1 Null BDAT request".to_string())
        } else if self.bdat == Bdat::Failed {
            Some(format!(
                "551 5.0.0 Discarded {size} bytes after earlier error"
            ))
        } else if self.bdat == Bdat::None && self.txn.is_none() {
            Some(cfg.reply_need_rcpt.clone())
        } else if self.bdat == Bdat::None && self.txn.as_ref().is_some_and(|t| t.rcpt_to.is_empty())
        {
            Some(cfg.reply_no_valid_recipients.clone())
        } else if let Some(text) = self.first_chunk_fault(now) {
            Some(text)
        } else if self.bdat_size.saturating_add(size) > cfg.message_size_limit {
            self.log_bdat_warning(now, BdatWarning::TooBig);
            Some("552 5.3.4 Chunk exceeds message size limit".to_string())
        } else {
            None
        };
        if refusal.is_none() {
            self.log.chunk_started(self.bdat == Bdat::None);
            self.bdat = Bdat::Receiving;
        }
        // Read (even when empty: answered once the command is counted) by handle_input.
        self.state = State::Chunk(Chunk {
            left: size,
            size,
            last,
            refusal,
            fragment: Vec::new(),
            fragment_size: 0,
        });
        true
    }

    /// smtpd's `warning: Illegal address syntax from CLIENT in COMMAND command: ARGUMENT`.
    fn log_illegal_address(&mut self, now: Time, command: &'static str, argument: &str) {
        let argument = maillog::printable(argument.as_bytes());
        let record = LogRecord::IllegalAddress { command, argument };
        self.push(now, ServerEvent::Log(record));
    }

    /// smtpd's `warning: QUEUEID|NOQUEUE: ...` about a BDAT command.
    fn log_bdat_warning(&mut self, now: Time, warning: BdatWarning) {
        let queue_id = self
            .txn
            .as_ref()
            .and_then(|t| t.queue_id.as_ref().map(|(id, _)| id.clone()));
        let record = LogRecord::BdatWarning { queue_id, warning };
        self.push(now, ServerEvent::Log(record));
    }

    /// An injected fault at the DATA stage applies to a message's first BDAT, which Postfix
    /// checks as it checks DATA: a reply (sent once the chunk is read) or a delay.
    fn first_chunk_fault(&mut self, now: Time) -> Option<String> {
        if self.bdat != Bdat::None {
            return None;
        }
        let i = self.faults.iter().position(|(s, f)| {
            *s == ServerStage::Data && !matches!(f, StageFault::CrashAfterDot(_))
        })?;
        match self.faults.remove(i).1 {
            StageFault::Reply(text) | StageFault::ReplyAt { text, .. } => {
                let note = format!("fault: answering the first BDAT with {text:?}");
                self.push(now, ServerEvent::Note(note));
                Some(text)
            }
            StageFault::Delay(d) => {
                let note = format!("fault: first BDAT reply delayed by {}", Dur(d));
                self.push(now, ServerEvent::Note(note));
                self.extra_delay += d;
                None
            }
            StageFault::CrashAfterDot(_) => None,
        }
    }

    /// A chunk has been read: answer it, and queue the message after `BDAT n LAST`.
    fn end_of_chunk(&mut self, now: Time, chunk: Chunk) {
        let cfg = self.cfg.clone();
        if let Some(text) = chunk.refusal {
            self.log.chunk_done(false);
            self.reply(now, &text, &[]);
            if text.starts_with("421") {
                return self.close(now);
            }
            if chunk.last {
                self.reset_transaction(now);
            } else {
                if self.bdat == Bdat::Receiving && self.streaming {
                    self.push(now, ServerEvent::Discard);
                }
                self.bdat = Bdat::Failed;
            }
            self.error_count += 1;
            self.check_error_limit(now);
            return;
        }
        if chunk.last {
            let body = std::mem::take(&mut self.bdat_body);
            let size = self.bdat_size;
            let template = cfg.reply_bdat_queued.clone();
            let (headers_ended, logged_size) = self.log.content_ended(size);
            if let Some(message_id) = headers_ended {
                let queue_id = self.txn.as_ref().and_then(|t| t.queue_id.clone());
                self.log_message_id(now, queue_id, message_id);
            }
            // Postfix answers with its own count: each line's length plus 2.
            let counted = self.log.chunk_size().to_string();
            self.queue_message(now, (body, size, logged_size), &template, &counted);
        } else {
            self.log.chunk_done(true);
            let size = chunk.size.to_string();
            self.reply(now, &cfg.reply_bdat_ok, &[("size", &size)]);
        }
    }

    /// A complete message: queued (unless a fault intervenes) and answered.
    /// `message`: the content, its size, and its size as the log says it.
    fn queue_message(&mut self, now: Time, message: (Vec<u8>, u64, u64), reply: &str, chunk: &str) {
        let (body, size, logged_size) = message;
        let txn = self
            .txn
            .take()
            .expect("a message only arrives inside a transaction");
        self.bdat = Bdat::None; // delivered, not discarded
        self.reset_transaction(now);
        if self.stage_fault(now, ServerStage::Dot).is_some() {
            self.log.message_done(false);
            if self.streaming {
                self.push(now, ServerEvent::Discard);
            }
            return;
        }
        let (queue_id, opened) = match txn.queue_id {
            Some(id) => id,
            None => {
                self.queued += 1;
                (queue_id(self.queue_salt, self.queued), now)
            }
        };
        let queued = LogRecord::Queued {
            queue_id: queue_id.clone(),
            opened,
            from: txn.mail_from.clone(),
            size: logged_size,
            to: txn.rcpt_to.clone(),
        };
        self.push(now, ServerEvent::Log(queued));
        let delivery = Delivery {
            queue_id: queue_id.clone(),
            helo: self.helo.clone(),
            mail_from: txn.mail_from,
            rcpt_to: txn.rcpt_to,
            body,
            size,
        };
        self.push(now, ServerEvent::Deliver(delivery));
        let crash = self
            .faults
            .iter()
            .position(|(s, f)| *s == ServerStage::Dot && matches!(f, StageFault::CrashAfterDot(_)));
        if let Some(i) = crash {
            let (_, StageFault::CrashAfterDot(restart)) = self.faults.remove(i) else {
                unreachable!()
            };
            self.push(
                now,
                ServerEvent::Note(format!(
                    "fault: crash after queueing {queue_id}, before the 250"
                )),
            );
            self.push(now, ServerEvent::Crash(restart));
            self.log.crashed();
            self.state = State::Closed;
            return;
        }
        self.log.message_done(true);
        self.reply(now, reply, &[("queue_id", &queue_id), ("size", chunk)]);
        self.error_count = 0;
        self.junk_cmds = 0;
    }

    fn is_local(&self, domain: &str) -> bool {
        let domain = domain.to_lowercase();
        let domain = domain.strip_suffix('.').unwrap_or(&domain);
        self.local_domains.iter().any(|d| d == domain || d == "*")
    }

    /// MAIL as Postfix's `mail_cmd` reads it (after the HELO and nesting checks).
    fn postfix_mail(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let words = envelope::tokens(&command.args);
        if words.len() < 2 || !words[0].text.eq_ignore_ascii_case("FROM:") {
            self.reply(now, &cfg.reply_mail_syntax, &[]);
            return false;
        }
        let smtputf8 = words[2..]
            .iter()
            .any(|w| w.text.eq_ignore_ascii_case("SMTPUTF8"));
        let address = match envelope::extract(&words[1].text) {
            Ok(a)
                if !words[1].unclosed
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), &cfg.hostname) =>
            {
                a
            }
            _ => {
                // An unclosed `<` is refused before the address is read: no warning.
                if !words[1].unclosed {
                    self.log_illegal_address(now, "MAIL", &words[1].text);
                }
                self.reply(now, &cfg.reply_mail_bad_address, &[]);
                return false;
            }
        };
        if let Err(text) = envelope::mail_params(&words[2..], &mut self.declared_size) {
            self.reply(now, &text, &[]);
            return false;
        }
        if self
            .declared_size
            .is_some_and(|size| size > cfg.message_size_limit)
        {
            let sender = envelope::quote_local(&address);
            self.reject(now, &cfg.reply_size_exceeded, Some(&sender), None);
            return false;
        }
        if now < cfg.storage_full_until.0 {
            self.reply(now, &cfg.reply_storage_full, &[]);
            return false;
        }
        self.txn = Some(Transaction {
            mail_from: address,
            smtputf8,
            ..Default::default()
        });
        self.reply(now, &cfg.reply_mail_ok, &[]);
        true
    }

    /// RCPT as Postfix's `rcpt_cmd` reads it (inside a transaction).
    fn postfix_rcpt(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let words = envelope::tokens(&command.args);
        if words.len() < 2 || !words[0].text.eq_ignore_ascii_case("TO:") {
            self.reply(now, &cfg.reply_rcpt_syntax, &[]);
            return false;
        }
        let smtputf8 = self.txn.as_ref().is_some_and(|t| t.smtputf8);
        let address = match envelope::extract(&words[1].text) {
            Ok(a)
                if !words[1].unclosed
                    && !a.is_empty()
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), &cfg.hostname) =>
            {
                a
            }
            _ => {
                if !words[1].unclosed {
                    self.log_illegal_address(now, "RCPT", &words[1].text);
                }
                self.reply(now, &cfg.reply_rcpt_bad_address, &[]);
                return false;
            }
        };
        let mut warning = None;
        let params = envelope::rcpt_params_warning(&words[2..], &mut warning);
        if let Some((value, list)) = warning {
            let record = LogRecord::UnknownNotify { value, list };
            self.push(now, ServerEvent::Log(record));
        }
        if let Err(text) = params {
            self.reply(now, &text, &[]);
            return false;
        }
        let txn = self.txn.as_ref().expect("checked by rcpt");
        if txn.rcpt_to.len() as u32 >= cfg.recipient_limit {
            self.reply(now, &cfg.reply_too_many_recipients, &[]);
            return false;
        }
        let ok = cfg.reply_rcpt_ok.clone();
        let accepted = self.postfix_check_recipient(now, &address, (&ok, &address), true);
        if accepted {
            self.txn
                .as_mut()
                .expect("checked by rcpt")
                .rcpt_to
                .push(address);
        }
        accepted
    }

    /// VRFY as Postfix's `vrfy_cmd` reads it (an argument is there).
    fn postfix_vrfy(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let mut words = envelope::tokens(&command.args);
        let smtputf8 = words.len() > 1
            && words
                .last()
                .is_some_and(|w| w.text.eq_ignore_ascii_case("SMTPUTF8"));
        if smtputf8 {
            words.pop();
        }
        let address = match (
            words.len(),
            words.first().map(|w| envelope::extract(&w.text)),
        ) {
            (1, Some(Ok(a)))
                if !a.is_empty()
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), &cfg.hostname) =>
            {
                a
            }
            _ => {
                let argument: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
                self.log_illegal_address(now, "VRFY", &argument.join(" "));
                self.reply(now, &cfg.reply_rcpt_bad_address, &[]);
                return false;
            }
        };
        let shown = words[0].text.clone();
        self.postfix_check_recipient(now, &address, (&cfg.reply_vrfy, &shown), false)
    }

    /// Relay check, then the local recipient table, on the resolved address; refusals name
    /// `address`, the `ok` reply names `shown`.
    fn postfix_check_recipient(
        &mut self,
        now: Time,
        address: &str,
        (ok, shown): (&str, &str),
        opens_queue: bool,
    ) -> bool {
        let cfg = self.cfg.clone();
        let r = envelope::resolve(address, &|d| self.is_local(d), &cfg.hostname);
        let known = || {
            cfg.mailboxes.is_empty()
                || r.local == "postmaster"
                || r.local == "mailer-daemon"
                || cfg.mailboxes.iter().any(|m| {
                    m.rsplit_once('@')
                        .map_or(m.as_str(), |(l, _)| l)
                        .eq_ignore_ascii_case(&r.local)
                })
        };
        let refusal = if r.routed || !self.is_local(&r.domain) {
            Some(&cfg.reply_relay_denied)
        } else if !known() {
            Some(&cfg.reply_unknown_user)
        } else {
            None
        };
        if let Some(template) = refusal {
            let sender = self.txn.as_ref().map(|t| t.mail_from.clone());
            let external = envelope::quote_local(address);
            self.reject_logged_as(
                now,
                template,
                sender.as_deref(),
                Some(address),
                Some(&external),
            );
            return false;
        }
        // A recipient of the transaction (RCPT, not VRFY) opens the queue file.
        if opens_queue {
            self.open_queue(now);
        }
        self.reply(now, ok, &[("addr", shown)]);
        true
    }

    /// The first accepted recipient opens the queue file: the message gets its queue id.
    fn open_queue(&mut self, now: Time) {
        if let Some(txn) = self.txn.as_mut().filter(|t| t.queue_id.is_none()) {
            self.queued += 1;
            let id = queue_id(self.queue_salt, self.queued);
            txn.queue_id = Some((id.clone(), now));
            self.push(now, ServerEvent::Log(LogRecord::QueueOpened(id)));
        }
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

    /// Logs the end of the session (once): why, if not by QUIT, and the command summary.
    fn log_end(&mut self, now: Time, reason: Option<&'static str>, bytes: u64) {
        for record in self.log.end(reason, bytes) {
            self.push(now, ServerEvent::Log(record));
        }
    }

    /// Logs a command line as read (`smtpd -v`), and its length if over the limit.
    fn log_command_line(&mut self, now: Time, line: &super::line::Line) {
        let text = String::from_utf8_lossy(&line.bytes).into_owned();
        self.push(now, ServerEvent::Log(LogRecord::Command(text)));
        if line.ending == Ending::Cut {
            let head = maillog::printable(&line.bytes).chars().take(30).collect();
            let limit = self.cfg.line_length_limit;
            self.push(
                now,
                ServerEvent::Log(LogRecord::RequestTooLong { limit, head }),
            );
        }
    }

    /// Logs cleanup's message-id line for the message being received.
    fn log_message_id(
        &mut self,
        now: Time,
        queue_id: Option<(String, Time)>,
        message_id: Option<String>,
    ) {
        if let Some((queue_id, opened)) = queue_id {
            let record = LogRecord::MessageId {
                queue_id,
                opened,
                message_id,
            };
            self.push(now, ServerEvent::Log(record));
        }
    }

    /// Refuses by a restriction: Postfix's `NOQUEUE: reject:` line, then the reply
    /// (`{addr}` in the template is the recipient `to`).
    fn reject(&mut self, now: Time, template: &str, from: Option<&str>, to: Option<&str>) {
        self.reject_logged_as(now, template, from, to, to);
    }

    /// As [`reject`](Self::reject), the log naming the recipient `logged` (Postfix logs the
    /// external, quoted form where its reply has the internal one).
    fn reject_logged_as(
        &mut self,
        now: Time,
        template: &str,
        from: Option<&str>,
        to: Option<&str>,
        logged: Option<&str>,
    ) {
        let vars: Vec<(&str, &str)> = to.map(|to| ("addr", to)).into_iter().collect();
        let reply = self.expand(template, &vars).replace('\n', " ");
        let record = LogRecord::Reject {
            queue_id: self
                .txn
                .as_ref()
                .and_then(|t| t.queue_id.as_ref().map(|(id, _)| id.clone())),
            stage: self.log.after(),
            reply,
            from: from.map(str::to_string),
            to: logged.map(str::to_string),
            protocol: self.log.protocol(),
            helo: self.helo.clone(),
        };
        self.push(now, ServerEvent::Log(record));
        self.reply(now, template, &vars);
    }
}

/// Postfix refuses these as an attack on SMTP rather than a mistake: header lines sent as
/// commands, HTTP/proxy verbs, and lines that do not start with a letter.
fn is_non_smtp(command: &Command) -> bool {
    let name = command.verb.name();
    // A header name: printable ASCII up to a colon (`Subject:`, `MAILFROM:<a@b>`).
    let header = name
        .find(':')
        .is_some_and(|i| i > 0 && name[..i].bytes().all(|b| b.is_ascii_graphic()));
    header
        || matches!(name, "CONNECT" | "GET" | "POST")
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
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
