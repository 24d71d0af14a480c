//! The client session: one connection's worth of sending. Replies and time in; writes,
//! per-message outcomes and a close out. It never decides retries: messages it could not
//! try on this connection come back as [`Status::NotAttempted`] for the caller to requeue.

use super::command::{Command, Verb};
use super::data::{canonical, stuffed_lines};
use super::outbox::Outbox;
use super::reply::{Reply, ReplyParser};
use super::Time;
use std::collections::VecDeque;
use std::sync::Arc;

/// The first command after the banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Greeting {
    /// `HELO name` (RFC 821).
    Helo,
    /// `EHLO name` (RFC 5321).
    Ehlo,
}

/// How the client's queue spaces its attempts at a deferred message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetrySchedule {
    /// Wait `retry_backoff`, doubled per attempt up to `retry_backoff_max`; at most `retries`
    /// further attempts.
    Doubling,
    /// Postfix's qmgr: the wait is the message's time in the queue, clamped to
    /// `retry_backoff` (`minimal_backoff_time`) .. `retry_backoff_max`
    /// (`maximal_backoff_time`), and the attempt happens at the first deferred-queue scan
    /// (every `queue_run_delay`) after it; a message still deferred after `queue_lifetime`
    /// (`maximal_queue_lifetime`) bounces. `retries` is not used.
    PostfixQmgr,
}

/// What the client does about STARTTLS: Postfix's `smtp_tls_security_level` (RFC 3207).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsPolicy {
    /// Never STARTTLS.
    None,
    /// Opportunistic (`may`): STARTTLS when offered, any certificate; plaintext when it is
    /// not offered or refused, and a plaintext retry after a failed handshake.
    May,
    /// Required (`encrypt`): STARTTLS or no delivery (deferred); any certificate.
    Encrypt,
    /// Required and verified (`verify`): as `encrypt`, and the server's certificate must
    /// chain to a trusted authority and name the server.
    Verify,
}

impl TlsPolicy {
    /// TLS or no delivery.
    pub fn required(self) -> bool {
        matches!(self, TlsPolicy::Encrypt | TlsPolicy::Verify)
    }

    /// Lower-case name (as in scenarios).
    pub fn name(self) -> &'static str {
        match self {
            TlsPolicy::None => "none",
            TlsPolicy::May => "may",
            TlsPolicy::Encrypt => "encrypt",
            TlsPolicy::Verify => "verify",
        }
    }
}

/// How a client leaves a connection after a failed transaction or a refused greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Farewell {
    /// QUIT, and wait for its reply (RSET first only when more messages follow).
    Quit,
    /// RSET, its reply, then QUIT; after a refused DATA only QUIT; after a refused greeting
    /// a close and nothing else (Python's smtplib: the caller's `quit()` follows the
    /// exception, but a refused greeting raises in the constructor, before the caller's
    /// `with` block).
    RsetQuit,
    /// Postfix's smtp client: RSET and QUIT, in one write when PIPELINING was offered (else
    /// QUIT after RSET's reply); after a refusal of the final `.` only QUIT.
    RsetQuitPipelined,
    /// Close the connection without RSET or QUIT (ssmtp, msmtp); pipelined replies still
    /// owed are read first.
    Close,
}

/// Headers a client adds to the content before it sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stamp {
    /// The content as the scenario gives it.
    None,
    /// ssmtp 2.64: `Received: by HELO-NAME (sSMTP sendmail emulation); DATE` first, then
    /// `From:` (the envelope sender) and `Date:` where the content has none.
    Ssmtp,
    /// swaks 20201014 given the message with `--data`: the content, then an empty line of
    /// its own before the final `.`.
    Swaks,
    /// Postfix 3.7.11 given the message by its `sendmail`: cleanup's `Received: by HOST
    /// (Postfix, from userid 0)` first, `Message-Id:` and `Date:` after the header where the
    /// content has none.
    Postfix,
    /// msmtp 1.8.23 (its `auto` defaults): `From:` (the envelope sender), `Date:` and
    /// `Message-ID:` first where the content has none.
    Msmtp,
}

config! {
    $
    /// Everything a client session does that a scenario may change.
    pub struct ClientConfig at crate::proto::client::ClientConfig, fields: client_config_fields {
        /// HELO or EHLO.
        pub greeting: crate::proto::client::Greeting,
        /// The name sent with HELO/EHLO; empty sends a bare `HELO`.
        pub helo_name: String,
        /// After EHLO is refused, try HELO.
        pub fall_back_to_helo: bool,
        /// Pipeline MAIL, RCPT and DATA (or the BDAT chunks) when the server offers PIPELINING.
        pub pipelining: bool,
        /// Send the message with BDAT (RFC 3030) when the server offers CHUNKING: the content
        /// as it is, no dot-stuffing, the last chunk `BDAT n LAST`; DATA otherwise.
        pub chunking: bool,
        /// Largest BDAT chunk in bytes (0: the whole message in one `BDAT n LAST`).
        pub chunk_size: u64,
        /// Send further messages on the same connection.
        pub reuse_connection: bool,
        /// Before each MAIL on a reused connection, send RSET and wait for its reply.
        pub rset_probe: bool,
        /// Keep an idle connection this long for the next message.
        pub idle_limit: crate::proto::dur::Dur,
        /// Never reuse a connection older than this.
        pub reuse_limit: crate::proto::dur::Dur,
        /// Delay before typing each line (commands and content): a person at a keyboard.
        pub line_delay: crate::proto::dur::Dur,
        /// On a refused RCPT, abort the transaction with RSET and stop (RFC 821 example).
        pub abort_on_rcpt_reject: bool,
        /// Write the final `.` in a write of its own rather than with the content.
        pub dot_in_own_write: bool,
        /// Write the content a line per write (ssmtp and msmtp do) rather than at once.
        pub write_per_line: bool,
        /// Pause before writing the final `.` in a write of its own (ssmtp sleeps 1 s); 0: none.
        pub dot_delay: crate::proto::dur::Dur,
        /// With PIPELINING: each pipelined command in a write of its own (msmtp) rather than
        /// the whole group in one write (Postfix).
        pub pipeline_separate_writes: bool,
        /// Verbs and ESMTP parameter keywords in lower case (`mail FROM:<a> size=12`), as
        /// Python's smtplib writes them.
        pub lowercase_verbs: bool,
        /// `SIZE=n` on MAIL when the server offers SIZE (n: the content's size with CRLF line ends).
        pub mail_size: bool,
        /// `ORCPT=rfc822;address` on each RCPT when the server offers DSN (Postfix).
        pub rcpt_orcpt: bool,
        /// With PIPELINING offered: QUIT in the same write as the final `.` when the
        /// connection will not be reused (Postfix).
        pub quit_after_dot: bool,
        /// How the client leaves after a failure: quit, rset-quit, rset-quit-pipelined, close.
        pub on_failure: crate::proto::client::Farewell,
        /// A cached connection whose idle limit ran out is closed without QUIT (Postfix).
        pub idle_close_without_quit: bool,
        /// A 5xx greeting defers the message instead of bouncing it (Postfix's
        /// `smtp_skip_5xx_greeting = yes`: the server is skipped, the mail tried later).
        pub skip_5xx_greeting: bool,
        /// Headers added to the content before sending: none, ssmtp.
        pub stamp: crate::proto::client::Stamp,
        /// Send QUIT at the end (false: just close).
        pub send_quit: bool,
        /// STARTTLS policy: none, may, encrypt, verify.
        pub tls: crate::proto::client::TlsPolicy,
        /// Under `verify`: the interceptor's own certificate authority is trusted too, as on a
        /// machine where an antivirus product installed its root certificate in the system store.
        pub trust_interceptor_ca: bool,
        /// Waiting for the TCP connection.
        pub timeout_connect: crate::proto::dur::Dur,
        /// Waiting for the banner.
        pub timeout_greeting: crate::proto::dur::Dur,
        /// Waiting for the HELO/EHLO reply.
        pub timeout_helo: crate::proto::dur::Dur,
        /// Waiting for the MAIL reply.
        pub timeout_mail: crate::proto::dur::Dur,
        /// Waiting for a RCPT reply.
        pub timeout_rcpt: crate::proto::dur::Dur,
        /// Waiting for the 354.
        pub timeout_data_init: crate::proto::dur::Dur,
        /// Waiting for the reply after the final `.`.
        pub timeout_data_done: crate::proto::dur::Dur,
        /// Waiting for the RSET reply.
        pub timeout_rset: crate::proto::dur::Dur,
        /// Waiting for the QUIT reply.
        pub timeout_quit: crate::proto::dur::Dur,
        /// Further attempts for a deferred message (4xx, timeout, lost connection); 0: the
        /// client has no queue: it reports the failure to its caller and stops.
        pub retries: u32,
        /// Wait before the first retry; doubles per attempt.
        pub retry_backoff: crate::proto::dur::Dur,
        /// Longest wait between attempts.
        pub retry_backoff_max: crate::proto::dur::Dur,
        /// After a timeout, send QUIT before closing (as Exchange does) instead of just closing.
        pub quit_on_timeout: bool,
        /// A reply timeout counts as a refusal of that command (swaks): the client goes on as
        /// after one (HELO after EHLO, the next recipient, QUIT) and reads the late reply as
        /// the next command's. Not for the reply to the final `.` or to QUIT.
        pub timeout_is_refusal: bool,
        /// How attempts at a deferred message are spaced.
        pub retry_schedule: crate::proto::client::RetrySchedule,
        /// `postfix-qmgr`: the deferred queue is scanned this often (Postfix's `queue_run_delay`).
        pub queue_run_delay: crate::proto::dur::Dur,
        /// `postfix-qmgr`: a message deferred this long after it was queued bounces (Postfix's
        /// `maximal_queue_lifetime`).
        pub queue_lifetime: crate::proto::dur::Dur,
    }
}

impl ClientConfig {
    /// The client keeps deferred mail and tries again (`retries`, or Postfix's qmgr); a
    /// client without a queue reports a failure to its caller and stops.
    pub fn has_queue(&self) -> bool {
        self.retries > 0 || self.retry_schedule == RetrySchedule::PostfixQmgr
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Index in the scenario (stable id for the ledger).
    pub id: usize,
    /// Reverse-path.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Content, unstuffed.
    pub body: Vec<u8>,
    /// When the message is ready to send.
    pub at: Time,
}

/// Where in the conversation an outcome was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Opening the connection.
    Connect,
    /// Waiting for the banner.
    Greeting,
    /// HELO or EHLO.
    Helo,
    /// STARTTLS and the TLS handshake.
    StartTls,
    /// The RSET probe of a reused connection.
    RsetProbe,
    /// MAIL.
    Mail,
    /// RCPT.
    Rcpt,
    /// DATA, before the 354.
    DataInit,
    /// Writing the content, before the final `.` (or `BDAT n LAST`) went out.
    Content,
    /// A BDAT chunk that is not the last.
    Chunk,
    /// The `BDAT n LAST` chunk: the end of the message, as the final `.` is for DATA.
    LastChunk,
    /// After the final `.`.
    DataDone,
    /// Not known: a client of the user's own code said what became of a message, not where.
    Unknown,
}

impl Stage {
    /// Lower-case name for transcripts.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Helo => "helo",
            Stage::StartTls => "starttls",
            Stage::RsetProbe => "rset-probe",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::DataInit => "data",
            Stage::Content => "content",
            Stage::Chunk => "bdat",
            Stage::LastChunk => "bdat-last",
            Stage::DataDone => "end-of-data",
            Stage::Unknown => "unknown",
        }
    }
}

/// What became of a message, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// 2xx after the final `.`: the server took responsibility.
    Accepted,
    /// A permanent (5xx) refusal: the message bounces.
    Rejected,
    /// A transient failure (4xx, timeout, dropped connection): try again later.
    Deferred,
    /// Not tried on this connection.
    NotAttempted,
}

/// The client's view of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The message's id.
    pub id: usize,
    /// What happened.
    pub status: Status,
    /// Where it was decided.
    pub stage: Stage,
    /// The deciding reply, if there was one.
    pub reply: Option<Reply>,
    /// Why, when there was no reply (timeout, connection lost).
    pub reason: Option<String>,
    /// The recipients this attempt was for (empty: all of the message's).
    pub to: Vec<String>,
    /// Recipients refused along the way.
    pub refused: Vec<(String, Reply)>,
    /// True if the final `.` (or `BDAT n LAST` and its chunk) was sent and no reply came: the
    /// server may have the message (RFC 1047's synchronisation gap), so a retry may duplicate it.
    pub in_sync_gap: bool,
    /// When the client's queue tries again the recipients this attempt left undecided
    /// (deferred, or refused with a 4xx); `None`: nothing of it is queued any more.
    pub retry_at: Option<Time>,
}

impl Outcome {
    /// The recipients this attempt was for, given the message's.
    pub fn recipients<'a>(&'a self, message: &'a [String]) -> &'a [String] {
        if self.to.is_empty() {
            message
        } else {
            &self.to
        }
    }
}

/// Something the client does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// One write on the socket.
    Send(Vec<u8>),
    /// A message's outcome is decided.
    Outcome(Outcome),
    /// Worth a transcript line (a timeout, a fallback).
    Note(String),
    /// Close the connection.
    Close,
    /// The server said 220 to STARTTLS: run the TLS handshake now and report it with
    /// [`ClientProtocol::handle_tls`].
    StartTls,
}

/// What a sent command's reply will mean.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    RsetProbe,
    Mail,
    Rcpt(String),
    DataInit,
    DataDone,
    /// The reply to a BDAT chunk; `last`: `BDAT n LAST`.
    Chunk {
        last: bool,
    },
    AbortRset,
    /// The RSET of [`Farewell::RsetQuit`]: QUIT follows its reply.
    FarewellRset,
    Quit,
}

impl Expect {
    fn stage(&self) -> Stage {
        match self {
            Expect::Greeting => Stage::Greeting,
            Expect::Ehlo | Expect::Helo => Stage::Helo,
            Expect::StartTls => Stage::StartTls,
            Expect::RsetProbe | Expect::AbortRset | Expect::FarewellRset | Expect::Quit => {
                Stage::RsetProbe
            }
            Expect::Mail => Stage::Mail,
            Expect::Rcpt(_) => Stage::Rcpt,
            Expect::DataInit => Stage::DataInit,
            Expect::DataDone => Stage::DataDone,
            Expect::Chunk { last: false } => Stage::Chunk,
            Expect::Chunk { last: true } => Stage::LastChunk,
        }
    }

    /// A reply owed to a transaction's MAIL, RCPT, DATA or BDAT: pipelined, it may still be
    /// owed after the transaction was decided.
    fn in_transaction(&self) -> bool {
        matches!(
            self,
            Expect::Mail | Expect::Rcpt(_) | Expect::DataInit | Expect::Chunk { .. }
        )
    }

    /// What ends the message: no reply to it is RFC 1047's synchronisation gap.
    fn ends_message(&self) -> bool {
        matches!(self, Expect::DataDone | Expect::Chunk { last: true })
    }
}

/// The transaction in progress.
#[derive(Debug)]
struct Current {
    message: Message,
    accepted: Vec<String>,
    refused: Vec<(String, Reply)>,
}

impl Current {
    fn new(message: Message) -> Current {
        Current {
            message,
            accepted: Vec::new(),
            refused: Vec::new(),
        }
    }
}

/// One client connection.
#[derive(Debug)]
pub struct ClientSession {
    cfg: Arc<ClientConfig>,
    queue: VecDeque<Message>,
    current: Option<Current>,
    parser: ReplyParser,
    /// Replies awaited, in order, each with its deadline.
    expecting: VecDeque<(Expect, Time)>,
    outbox: Outbox<ClientEvent>,
    connected_at: Time,
    last_done: Time,
    transactions: u32,
    pipelining: bool,
    quitting: bool,
    closed: bool,
    /// Waiting to start the next message at this time (connection kept idle).
    wake_at: Option<Time>,
    /// Without pipelining: the RCPT commands still to send, one per reply.
    lockstep: VecDeque<(Command, Expect)>,
    /// Inside TLS.
    tls_active: bool,
    /// Waiting for the driver's handshake.
    tls_handshake: bool,
    /// The server offered CHUNKING and the profile sends BDAT.
    chunking: bool,
    /// Without pipelining: the BDAT chunks still to send (command and bytes, and whether it
    /// is the last), one per reply.
    chunks: VecDeque<(Vec<u8>, bool)>,
    /// The server offered SIZE and the profile sends `SIZE=`.
    size_param: bool,
    /// The server offered DSN and the profile sends `ORCPT=`.
    orcpt_param: bool,
    /// Where the last failed transaction failed (how the client leaves depends on it).
    failed_at: Stage,
    /// Writes queued and writes handed to the driver so far, and the number of the write
    /// that ends the message in progress (its `.` or `BDAT n LAST`): only once that one has
    /// left is a silence RFC 1047's gap.
    writes_queued: u64,
    writes_out: u64,
    end_write: Option<u64>,
}

impl ClientSession {
    /// A session for a connection established at `now`, with messages to send on it.
    pub fn new(cfg: Arc<ClientConfig>, messages: Vec<Message>, now: Time) -> Self {
        let deadline = now + cfg.timeout_greeting.0;
        ClientSession {
            cfg,
            queue: messages.into(),
            current: None,
            parser: ReplyParser::new(),
            expecting: VecDeque::from([(Expect::Greeting, deadline)]),
            outbox: Outbox::new(now),
            connected_at: now,
            last_done: now,
            transactions: 0,
            pipelining: false,
            quitting: false,
            closed: false,
            wake_at: None,
            lockstep: VecDeque::new(),
            tls_active: false,
            tls_handshake: false,
            chunking: false,
            chunks: VecDeque::new(),
            size_param: false,
            orcpt_param: false,
            failed_at: Stage::Mail,
            writes_queued: 0,
            writes_out: 0,
            end_write: None,
        }
    }

    /// True once the session has closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn handle_reply(&mut self, now: Time, reply: Reply) {
        let Some((expect, deadline)) = self.expecting.pop_front() else {
            self.note(now, format!("unexpected reply: {reply}"));
            return;
        };
        if reply.code == 421 && expect != Expect::Quit {
            // Service closing: the server will hang up; the transaction is deferred at the
            // stage this reply answers.
            self.expecting.push_front((expect, deadline));
            self.abort(now, Some(reply), None);
            return;
        }
        if self.current.is_none() && expect.in_transaction() {
            // Pipelined, owed to a transaction decided by an earlier reply (a refused MAIL or
            // chunk): once the last has come, the session goes on.
            if self.expecting.is_empty() {
                self.after_failed_transaction(now);
            }
            return;
        }
        match expect {
            Expect::Greeting => {
                if reply.class() == 5 && self.cfg.skip_5xx_greeting {
                    let mut skipped = Decision::by_reply(Stage::Greeting, reply);
                    skipped.status = Status::Deferred;
                    return self.leave(now, skipped);
                }
                if !reply.is_positive() {
                    return self.give_up(now, Stage::Greeting, reply);
                }
                let command = match self.cfg.greeting {
                    Greeting::Ehlo => Command::ehlo(&self.cfg.helo_name),
                    Greeting::Helo => Command::helo(
                        Some(&self.cfg.helo_name)
                            .filter(|n| !n.is_empty())
                            .map(|n| n.as_str()),
                    ),
                };
                let expect = if self.cfg.greeting == Greeting::Ehlo {
                    Expect::Ehlo
                } else {
                    Expect::Helo
                };
                self.send_commands(now, &[(command, expect)]);
            }
            Expect::Ehlo | Expect::Helo => {
                if reply.is_positive() {
                    let offered = |keyword: &str| expect == Expect::Ehlo && offers(&reply, keyword);
                    self.pipelining = self.cfg.pipelining && offered("PIPELINING");
                    self.chunking = self.cfg.chunking && offered("CHUNKING");
                    self.size_param = self.cfg.mail_size && offered("SIZE");
                    self.orcpt_param = self.cfg.rcpt_orcpt && offered("DSN");
                    if self.tls_active || self.cfg.tls == TlsPolicy::None {
                        return self.next_message(now);
                    }
                    if offered("STARTTLS") {
                        let starttls = Command::bare(Verb::StartTls);
                        return self.send_commands(now, &[(starttls, Expect::StartTls)]);
                    }
                    if self.cfg.tls.required() {
                        let why = "TLS is required, but was not offered by host";
                        return self.give_up_tls(now, None, why.to_string());
                    }
                    return self.next_message(now);
                }
                // Postfix, msmtp and smtplib fall back on a 4xx as on a 5xx (421 is handled
                // above: the server is closing).
                if expect == Expect::Ehlo && self.cfg.fall_back_to_helo {
                    self.note(now, "EHLO refused; falling back to HELO".into());
                    let name = Some(self.cfg.helo_name.as_str()).filter(|n| !n.is_empty());
                    return self.send_commands(now, &[(Command::helo(name), Expect::Helo)]);
                }
                self.give_up(now, Stage::Helo, reply);
            }
            Expect::StartTls => {
                if reply.code == 220 {
                    self.tls_handshake = true;
                    self.outbox.push(now, ClientEvent::StartTls);
                } else if self.cfg.tls.required() {
                    let why = format!("TLS is required, but host refused to start TLS: {reply}");
                    self.give_up_tls(now, Some(reply), why);
                } else {
                    self.note(
                        now,
                        format!("STARTTLS refused ({reply}): going on in plaintext"),
                    );
                    self.next_message(now);
                }
            }
            Expect::RsetProbe => {
                if reply.is_positive() {
                    self.start_transaction(now);
                } else {
                    // The connection is not usable: hand the message back untried.
                    self.note(now, "RSET probe failed: connection not reused".into());
                    if let Some(current) = self.current.take() {
                        self.queue.push_front(current.message);
                    }
                    self.finish(now);
                }
            }
            Expect::Mail => {
                if !reply.is_positive() {
                    // Pipelined RCPT, DATA or BDAT replies still come; they are let pass.
                    self.lockstep.clear();
                    self.fail_current(now, Stage::Mail, reply);
                    if !self.expecting.iter().any(|(e, _)| e.in_transaction()) {
                        self.after_failed_transaction(now);
                    }
                } else if let Some(next) = self.lockstep.pop_front() {
                    self.send_commands(now, &[next]);
                }
            }
            Expect::Rcpt(to) => {
                let current = self
                    .current
                    .as_mut()
                    .expect("RCPT sent inside a transaction");
                if reply.is_positive() {
                    current.accepted.push(to);
                } else {
                    current.refused.push((to, reply.clone()));
                    if self.cfg.abort_on_rcpt_reject {
                        // The whole message fails; pipelined replies still owed are let pass.
                        self.lockstep.clear();
                        self.fail_current(now, Stage::Rcpt, reply);
                        if !self.expecting.iter().any(|(e, _)| e.in_transaction()) {
                            self.after_failed_transaction(now);
                        }
                        return;
                    }
                }
                if let Some(next) = self.lockstep.pop_front() {
                    return self.send_commands(now, &[next]);
                }
                if self
                    .expecting
                    .iter()
                    .any(|(e, _)| matches!(e, Expect::Rcpt(_)))
                {
                    return; // pipelined replies still to come
                }
                let current = self.current.as_ref().expect("inside a transaction");
                if current.accepted.is_empty() {
                    // Every recipient refused. A pipelined DATA or BDAT is already on its way;
                    // otherwise stop here.
                    let content_sent = self
                        .expecting
                        .iter()
                        .any(|(e, _)| matches!(e, Expect::DataInit | Expect::Chunk { .. }));
                    if !content_sent {
                        let last = current
                            .refused
                            .last()
                            .map(|(_, r)| r.clone())
                            .expect("at least one refusal");
                        self.fail_current(now, Stage::Rcpt, last);
                        self.after_failed_transaction(now);
                    }
                } else if !self.pipelining && self.chunking {
                    self.chunks = self.bdat_chunks().into();
                    self.send_next_chunk(now);
                } else if !self.pipelining {
                    self.send_commands(now, &[(Command::bare(Verb::Data), Expect::DataInit)]);
                }
            }
            Expect::DataInit => {
                let all_refused = self.current.as_ref().is_some_and(|c| c.accepted.is_empty());
                if reply.code == 354 && !all_refused {
                    self.send_body(now);
                } else if all_refused {
                    let last = self
                        .current
                        .as_ref()
                        .and_then(|c| c.refused.last().map(|(_, r)| r.clone()));
                    self.fail_current(now, Stage::Rcpt, last.unwrap_or(reply));
                    self.after_failed_transaction(now);
                } else {
                    self.fail_current(now, Stage::DataInit, reply);
                    self.after_failed_transaction(now);
                }
            }
            Expect::DataDone => {
                let refused = !reply.is_positive();
                self.decide(now, Decision::by_reply(Stage::DataDone, reply));
                if refused {
                    self.failed_at = Stage::DataDone;
                    self.after_failed_transaction(now);
                } else {
                    self.finish(now);
                }
            }
            Expect::Chunk { last } => self.chunk_reply(now, last, reply),
            Expect::AbortRset => self.finish(now),
            Expect::FarewellRset => self.quit(now),
            Expect::Quit => self.close(now),
        }
    }

    /// The reply to a BDAT chunk of the transaction in progress.
    fn chunk_reply(&mut self, now: Time, last: bool, reply: Reply) {
        let stage = Expect::Chunk { last }.stage();
        let current = self.current.as_ref().expect("checked by handle_reply");
        if current.accepted.is_empty() {
            // Pipelined behind recipients that were all refused: the server read the chunk
            // and refused it for that.
            let refusal = current.refused.last().map(|(_, r)| r.clone());
            self.fail_current(now, Stage::Rcpt, refusal.unwrap_or(reply));
        } else if !reply.is_positive() {
            self.chunks.clear();
            self.fail_current(now, stage, reply);
        } else if last {
            self.decide(now, Decision::by_reply(stage, reply));
            return self.finish(now);
        } else {
            if let Some((bytes, last)) = self.chunks.pop_front() {
                self.send_raw(now, bytes, &[Expect::Chunk { last }]);
            }
            return;
        }
        // Refused. After `BDAT n LAST` the server has forgotten the transaction; before it,
        // pipelined chunks may still be answered, and then it needs a RSET.
        if last {
            self.finish(now);
        } else if !self.expecting.iter().any(|(e, _)| e.in_transaction()) {
            self.after_failed_transaction(now);
        }
    }

    /// The message as BDAT chunks (RFC 3030): each `BDAT n` with its n bytes of content as
    /// it is (canonical line ends, no dot-stuffing), `chunk_size` at most, the last `BDAT n
    /// LAST` (`BDAT 0 LAST` for an empty message).
    fn bdat_chunks(&self) -> Vec<(Vec<u8>, bool)> {
        let current = self.current.as_ref().expect("BDAT inside a transaction");
        let content = canonical(&current.message.body);
        let size = match usize::try_from(self.cfg.chunk_size) {
            Ok(0) | Err(_) => content.len().max(1),
            Ok(n) => n,
        };
        let pieces: Vec<&[u8]> = if content.is_empty() {
            vec![&[]]
        } else {
            content.chunks(size).collect()
        };
        let count = pieces.len();
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let last = i + 1 == count;
                let mut bytes = Command::bdat_chunk(piece.len() as u64, last).to_wire();
                bytes.extend_from_slice(piece);
                (bytes, last)
            })
            .collect()
    }

    /// Without pipelining: the next BDAT chunk, its reply awaited before the one after it.
    fn send_next_chunk(&mut self, now: Time) {
        if let Some((bytes, last)) = self.chunks.pop_front() {
            self.send_raw(now, bytes, &[Expect::Chunk { last }]);
        }
    }

    /// After a failed transaction (MAIL, RCPT, DATA, a chunk or the reply to the final `.`):
    /// the connection is still fine; how the client goes on is its [`Farewell`]. A client
    /// that quits or reuses its connection sends RSET first when more messages follow.
    fn after_failed_transaction(&mut self, now: Time) {
        if self.quitting || self.closed {
            return;
        }
        let rset = || (Command::bare(Verb::Rset), Expect::AbortRset);
        let more = !self.queue.is_empty();
        match self.cfg.on_failure {
            Farewell::Quit if more => self.send_commands(now, &[rset()]),
            Farewell::Quit => self.finish(now),
            Farewell::RsetQuitPipelined if more && self.cfg.reuse_connection => {
                self.send_commands(now, &[rset()])
            }
            Farewell::RsetQuitPipelined if self.failed_at == Stage::DataDone => self.quit(now),
            Farewell::RsetQuitPipelined if self.pipelining => {
                self.quitting = true;
                self.wake_at = None;
                let quit = (Command::bare(Verb::Quit), Expect::Quit);
                self.send_commands(now, &[rset(), quit]);
            }
            // smtplib: SMTPDataError is raised without a RSET when DATA itself is refused.
            Farewell::RsetQuit if self.failed_at == Stage::DataInit => self.quit(now),
            Farewell::RsetQuit | Farewell::RsetQuitPipelined => {
                let rset = (Command::bare(Verb::Rset), Expect::FarewellRset);
                self.send_commands(now, &[rset]);
            }
            Farewell::Close => self.close(now),
        }
    }

    fn next_message(&mut self, now: Time) {
        let Some(next) = self.queue.front() else {
            // A cached connection stays open for the idle limit before it is closed.
            let idle_until = self.last_done + self.cfg.idle_limit.0;
            let cached = self.cfg.reuse_connection && self.transactions > 0;
            if cached && now < idle_until {
                self.wake_at = Some(idle_until);
                return;
            }
            if cached && self.cfg.idle_close_without_quit && !self.quitting {
                // Postfix's scache drops an expired connection without a word.
                self.note(now, "cached connection expired: closed without QUIT".into());
                return self.close(now);
            }
            return self.quit(now);
        };
        if self.transactions == 0 {
            if next.at > now {
                self.wake_at = Some(next.at);
                return;
            }
            self.take_next();
            return self.start_transaction(now);
        }
        // A further message on this connection: only if reuse is allowed and in time.
        let ready = next.at.max(now);
        let in_time = ready <= self.last_done + self.cfg.idle_limit.0
            && ready <= self.connected_at + self.cfg.reuse_limit.0;
        if !self.cfg.reuse_connection || !in_time {
            return self.quit(now);
        }
        if next.at > now {
            self.wake_at = Some(next.at);
            return;
        }
        self.take_next();
        if self.cfg.rset_probe {
            self.send_commands(now, &[(Command::bare(Verb::Rset), Expect::RsetProbe)]);
        } else {
            self.start_transaction(now);
        }
    }

    fn start_transaction(&mut self, now: Time) {
        self.transactions += 1;
        let current = self.current.as_ref().expect("a message is current");
        let size = self.size_param.then(|| {
            let keyword = if self.cfg.lowercase_verbs {
                "size"
            } else {
                "SIZE"
            };
            format!("{keyword}={}", canonical(&current.message.body).len())
        });
        let params: Vec<&str> = size.iter().map(String::as_str).collect();
        let mail = Command::mail(&current.message.from, &params);
        let mut group = vec![(mail, Expect::Mail)];
        for to in &current.message.to {
            let orcpt = self
                .orcpt_param
                .then(|| format!("ORCPT=rfc822;{}", xtext(to)));
            let rcpt = Command::rcpt_with(to, orcpt.as_slice());
            group.push((rcpt, Expect::Rcpt(to.clone())));
        }
        if self.pipelining && self.chunking {
            // The envelope and every chunk in one write (RFC 3030 §4.2 lets BDAT be pipelined).
            let mut bytes: Vec<u8> = group.iter().flat_map(|(c, _)| c.to_wire()).collect();
            let mut expects: Vec<Expect> = group.into_iter().map(|(_, e)| e).collect();
            for (chunk, last) in self.bdat_chunks() {
                bytes.extend_from_slice(&chunk);
                expects.push(Expect::Chunk { last });
            }
            self.send_raw(now, bytes, &expects);
        } else if self.pipelining {
            group.push((Command::bare(Verb::Data), Expect::DataInit));
            if self.cfg.pipeline_separate_writes {
                for command in group {
                    self.send_commands(now, &[command]);
                }
            } else {
                self.send_commands(now, &group);
            }
        } else {
            // One command at a time: MAIL now, each RCPT queued behind the previous reply.
            let (mail, rest) = group.split_first().expect("MAIL is first");
            self.lockstep = rest.iter().cloned().collect();
            self.send_commands(now, std::slice::from_ref(mail));
        }
    }

    /// The content after the 354: at once, or a line per write (a typist, ssmtp, msmtp);
    /// the final `.` with it or alone, after `dot_delay`; QUIT pipelined behind it when the
    /// connection will not be reused (`quit_after_dot`).
    fn send_body(&mut self, now: Time) {
        let current = self.current.as_ref().expect("DATA inside a transaction");
        let lines = stuffed_lines(&current.message.body);
        let cfg = self.cfg.clone();
        let per_line = cfg.write_per_line || !cfg.line_delay.0.is_zero();
        let dot_alone = per_line || cfg.dot_in_own_write || !cfg.dot_delay.0.is_zero();
        let mut end = b".\r\n".to_vec();
        let quit = cfg.quit_after_dot && self.pipelining && !cfg.reuse_connection;
        if quit {
            end.extend_from_slice(&self.wire(&Command::bare(Verb::Quit)));
        }
        if per_line {
            for line in lines {
                self.write(now, line);
            }
        } else if dot_alone {
            self.write(now, lines.concat());
        } else {
            let mut content = lines.concat();
            content.append(&mut end);
            self.write(now, content);
        }
        if dot_alone {
            let pause = cfg.line_delay.0 + cfg.dot_delay.0;
            self.end_write = Some(self.push_write(now, pause, end));
        } else {
            self.end_write = Some(self.writes_queued - 1);
        }
        let deadline = self.outbox.last_due() + cfg.timeout_data_done.0;
        self.expecting.push_back((Expect::DataDone, deadline));
        if quit {
            self.quitting = true;
            self.wake_at = None;
            let deadline = self.outbox.last_due() + cfg.timeout_quit.0;
            self.expecting.push_back((Expect::Quit, deadline));
        }
    }

    /// Writes commands as one group (one write), after the typing delay.
    fn send_commands(&mut self, now: Time, group: &[(Command, Expect)]) {
        let mut bytes = Vec::new();
        for (command, _) in group {
            bytes.extend_from_slice(&self.wire(command));
        }
        let expects: Vec<Expect> = group.iter().map(|(_, e)| e.clone()).collect();
        self.send_raw(now, bytes, &expects);
    }

    /// Writes `bytes` (one write, after the typing delay) that are owed these replies.
    fn send_raw(&mut self, now: Time, bytes: Vec<u8>, expects: &[Expect]) {
        self.write(now, bytes);
        if expects.iter().any(Expect::ends_message) {
            self.end_write = Some(self.writes_queued - 1);
        }
        for expect in expects {
            let deadline = self.outbox.last_due() + self.timeout_for(expect);
            self.expecting.push_back((expect.clone(), deadline));
        }
    }

    /// A command as this client writes it (`lowercase_verbs`: `mail FROM:<...>`).
    fn wire(&self, command: &Command) -> Vec<u8> {
        let mut bytes = command.to_wire();
        if self.cfg.lowercase_verbs {
            let verb_end = bytes
                .iter()
                .position(|b| *b == b' ' || *b == b'\r')
                .unwrap_or(bytes.len());
            bytes[..verb_end].make_ascii_lowercase();
        }
        bytes
    }

    fn timeout_for(&self, expect: &Expect) -> Time {
        let c = &self.cfg;
        match expect {
            Expect::Greeting => c.timeout_greeting.0,
            Expect::Ehlo | Expect::Helo | Expect::StartTls => c.timeout_helo.0,
            Expect::RsetProbe | Expect::AbortRset | Expect::FarewellRset => c.timeout_rset.0,
            Expect::Mail => c.timeout_mail.0,
            Expect::Rcpt(_) => c.timeout_rcpt.0,
            Expect::DataInit => c.timeout_data_init.0,
            // The server answers a chunk once it has read (and, for the last, queued) it.
            Expect::DataDone | Expect::Chunk { .. } => c.timeout_data_done.0,
            Expect::Quit => c.timeout_quit.0,
        }
    }

    fn write(&mut self, now: Time, bytes: Vec<u8>) {
        self.push_write(now, self.cfg.line_delay.0, bytes);
    }

    /// Queues one write `delay` after `now` (or after what is queued before it); its number.
    fn push_write(&mut self, now: Time, delay: Time, bytes: Vec<u8>) -> u64 {
        self.outbox.push_after(now, delay, ClientEvent::Send(bytes));
        self.writes_queued += 1;
        self.writes_queued - 1
    }

    /// The write that ends the message in progress has been handed to the driver.
    fn end_left(&self) -> bool {
        self.end_write.is_some_and(|n| self.writes_out > n)
    }

    fn note(&mut self, now: Time, text: String) {
        self.outbox.push(now, ClientEvent::Note(text));
    }

    fn decide(&mut self, now: Time, decision: Decision) {
        let Some(current) = self.current.take() else {
            return;
        };
        let mut outcome = decision.outcome(current.message.id, current.refused);
        outcome.to = current.message.to;
        self.last_done = now;
        self.outbox.push(now, ClientEvent::Outcome(outcome));
    }

    /// The next queued message becomes the transaction in progress.
    fn take_next(&mut self) {
        let message = self.queue.pop_front().expect("a message is queued");
        self.current = Some(Current::new(message));
    }

    /// Every message still queued on this connection gets `decision`.
    fn decide_queued(&mut self, now: Time, decision: Decision) {
        let queued: Vec<Message> = self.queue.drain(..).collect();
        for message in queued {
            self.current = Some(Current::new(message));
            self.decide(now, decision.clone());
        }
    }

    fn fail_current(&mut self, now: Time, stage: Stage, reply: Reply) {
        self.failed_at = stage;
        let mut decision = Decision::by_reply(stage, reply);
        if decision.status == Status::Accepted {
            // A 2xx where another code was due (a 250 to DATA): the client is out of step
            // with the server. Postfix calls it a protocol error, 5.5.0 (smtp_trouble.c,
            // vsmtp_fill_dsn), and bounces; a client with no queue fails the same.
            decision.status = Status::Rejected;
            decision.reason = Some("protocol error: a 2xx reply where another was due".into());
        }
        self.decide(now, decision);
    }

    /// The session cannot go on (a refused greeting or HELO): nothing on this connection is
    /// tried; the messages fail with this reply.
    fn give_up(&mut self, now: Time, stage: Stage, reply: Reply) {
        self.leave(now, Decision::by_reply(stage, reply));
    }

    /// Every message on this connection gets `decision`; the client leaves as it does after
    /// a failure.
    fn leave(&mut self, now: Time, decision: Decision) {
        let refused_greeting = decision.stage == Stage::Greeting;
        self.decide_queued(now, decision);
        let close = match self.cfg.on_failure {
            Farewell::Close => true,
            Farewell::RsetQuit => refused_greeting,
            Farewell::Quit | Farewell::RsetQuitPipelined => false,
        };
        if close {
            self.close(now);
        } else {
            self.quit(now);
        }
    }

    /// TLS was required and is not to be had on this connection: every message is deferred
    /// (or bounced, by a 5xx refusal of STARTTLS) with `why`, and the client quits.
    fn give_up_tls(&mut self, now: Time, reply: Option<Reply>, why: String) {
        self.note(now, why.clone());
        let status = reply.as_ref().map_or(Status::Deferred, status_of);
        self.decide_queued(
            now,
            Decision {
                status,
                stage: Stage::StartTls,
                reply,
                reason: Some(why),
                gap: false,
            },
        );
        self.quit(now);
    }

    /// The handshake [`ClientEvent::StartTls`] asked for is done. Inside TLS the client
    /// starts over with EHLO (RFC 3207 §4.2); after a failure the connection is unusable
    /// and every message comes back: untried, for a plaintext retry, under `may` (Postfix's
    /// fallback), deferred otherwise ("Cannot start TLS: handshake failure").
    fn tls_done(&mut self, now: Time, result: Result<(), String>) {
        if !std::mem::take(&mut self.tls_handshake) || self.closed {
            return;
        }
        match result {
            Ok(()) => {
                self.tls_active = true;
                self.pipelining = false;
                let ehlo = Command::ehlo(&self.cfg.helo_name);
                self.send_commands(now, &[(ehlo, Expect::Ehlo)]);
            }
            Err(why) => {
                let fallback = self.cfg.tls == TlsPolicy::May;
                let reason = if fallback {
                    format!("Cannot start TLS: handshake failure ({why}); retrying in plaintext")
                } else {
                    format!("Cannot start TLS: handshake failure ({why})")
                };
                self.note(now, reason.clone());
                let status = if fallback {
                    Status::NotAttempted
                } else {
                    Status::Deferred
                };
                self.decide_queued(
                    now,
                    Decision::without_reply(status, Stage::StartTls, reason, false),
                );
                self.expecting.clear();
                self.close(now);
            }
        }
    }

    /// The connection failed (timeout, close, reset, 421): the transaction in progress is
    /// deferred, the rest goes back untried.
    fn abort(&mut self, now: Time, reply: Option<Reply>, reason: Option<String>) {
        let gap = self.expecting.iter().find(|(e, _)| e.ends_message());
        let in_gap = gap.is_some() && reply.is_none() && self.end_left();
        let stage = match gap {
            Some((e, _)) if in_gap => e.stage(),
            Some(_) if reply.is_none() => Stage::Content,
            _ => self
                .expecting
                .front()
                .map(|(e, _)| e.stage())
                .unwrap_or(Stage::Greeting),
        };
        if self.current.is_some() {
            let decision = Decision {
                status: Status::Deferred,
                stage,
                reply: reply.clone(),
                reason: reason.clone(),
                gap: in_gap,
            };
            self.decide(now, decision);
        }
        let status = if matches!(stage, Stage::Greeting | Stage::Helo) {
            Status::Deferred
        } else {
            Status::NotAttempted
        };
        let decision = Decision {
            status,
            stage,
            reply: reply.clone(),
            reason: reason.clone(),
            gap: false,
        };
        self.decide_queued(now, decision);
        self.expecting.clear();
        self.close(now);
    }

    fn finish(&mut self, now: Time) {
        self.next_message(now);
    }

    fn quit(&mut self, now: Time) {
        if self.quitting || self.closed {
            return;
        }
        self.quitting = true;
        self.wake_at = None;
        if self.cfg.send_quit {
            self.send_commands(now, &[(Command::bare(Verb::Quit), Expect::Quit)]);
        } else {
            self.close(now);
        }
    }

    fn close(&mut self, now: Time) {
        if self.closed {
            return;
        }
        // Messages this connection never got to (reuse not allowed or out of time).
        self.decide_queued(
            now,
            Decision {
                status: Status::NotAttempted,
                stage: Stage::Mail,
                reply: None,
                reason: None,
                gap: false,
            },
        );
        self.closed = true;
        self.outbox.push(now, ClientEvent::Close);
    }
}

/// An address as an RFC 3461 xtext: `+`, `=`, controls, space and non-ASCII as `+XX`.
fn xtext(address: &str) -> String {
    let mut out = String::new();
    for b in address.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// True if an EHLO reply lists `keyword` (RFC 5321 §4.1.1.1: a keyword, then parameters).
fn offers(reply: &Reply, keyword: &str) -> bool {
    reply.lines.iter().skip(1).any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

/// What a reply says about a message: 2xx accepted, 5xx rejected, anything else deferred.
pub(crate) fn status_of(reply: &Reply) -> Status {
    match reply.class() {
        2 => Status::Accepted,
        5 => Status::Rejected,
        _ => Status::Deferred,
    }
}

/// How an attempt at a message ended, before the session says which message it was and
/// which recipients were refused on the way (shared by [`ClientSession`] and the script).
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    pub(crate) status: Status,
    pub(crate) stage: Stage,
    pub(crate) reply: Option<Reply>,
    pub(crate) reason: Option<String>,
    /// The final '.' went out and no reply came (RFC 1047).
    pub(crate) gap: bool,
}

impl Decision {
    /// Decided by `reply` at `stage`.
    pub(crate) fn by_reply(stage: Stage, reply: Reply) -> Decision {
        if reply.is_missing() {
            let why = reply.lines.join(" / ");
            return Decision::without_reply(Status::Deferred, stage, why, false);
        }
        Decision {
            status: status_of(&reply),
            stage,
            reply: Some(reply),
            reason: None,
            gap: false,
        }
    }

    /// Decided without a reply (a lost connection, a timeout, an unfinished script).
    pub(crate) fn without_reply(
        status: Status,
        stage: Stage,
        reason: String,
        gap: bool,
    ) -> Decision {
        Decision {
            status,
            stage,
            reply: None,
            reason: Some(reason),
            gap,
        }
    }

    /// The outcome of message `id`.
    pub(crate) fn outcome(self, id: usize, refused: Vec<(String, Reply)>) -> Outcome {
        Outcome {
            to: Vec::new(),
            retry_at: None,
            id,
            status: self.status,
            stage: self.stage,
            reply: self.reply,
            reason: self.reason,
            refused,
            in_sync_gap: self.gap,
        }
    }
}

/// What a client driver needs from a client session (the profile-driven [`ClientSession`] or
/// a replayed [`ScriptSession`](super::script::ScriptSession)).
pub trait ClientProtocol {
    /// Bytes from the server.
    fn handle_input(&mut self, now: Time, bytes: &[u8]);
    /// The server closed or reset the connection.
    fn handle_eof(&mut self, now: Time, why: &str);
    /// `now` reached the time [`poll_timeout`](Self::poll_timeout) asked for.
    fn handle_timeout(&mut self, now: Time);
    /// The next event due at or before `now`.
    fn poll_event(&mut self, now: Time) -> Option<ClientEvent>;
    /// When the session next needs attention.
    fn poll_timeout(&self) -> Option<Time>;
    /// The TLS handshake asked for by [`ClientEvent::StartTls`] ended: `Ok` inside TLS, or
    /// why it failed.
    fn handle_tls(&mut self, _now: Time, _result: Result<(), String>) {}
}

impl ClientProtocol for ClientSession {
    fn handle_input(&mut self, now: Time, bytes: &[u8]) {
        self.parser.push(bytes);
        while !self.closed {
            match self.parser.next_reply() {
                None => break,
                Some(Ok(reply)) => self.handle_reply(now, reply),
                Some(Err(e)) => {
                    self.note(now, format!("unparseable reply: {e}"));
                    self.abort(now, None, Some(format!("protocol error: {e}")));
                }
            }
        }
    }

    fn handle_eof(&mut self, now: Time, why: &str) {
        if self.closed {
            return;
        }
        let quit_answered = self.quitting && self.expecting.is_empty();
        if !(quit_answered || self.quitting && self.current.is_none()) {
            self.note(now, format!("connection {why}"));
        }
        self.abort(now, None, Some(format!("connection {why}")));
    }

    fn handle_timeout(&mut self, now: Time) {
        if self.closed {
            return;
        }
        if let Some((expect, deadline)) = self.expecting.front() {
            if now >= *deadline && self.outbox.is_empty() {
                let what = format!("timeout waiting for the {} reply", expect.stage().name());
                let refusal = self.cfg.timeout_is_refusal
                    && !expect.ends_message()
                    && !matches!(expect, Expect::Quit);
                self.note(now, what.clone());
                if refusal {
                    return self.handle_reply(now, Reply::missing(what));
                }
                if self.cfg.quit_on_timeout && !self.quitting {
                    let quit = self.wire(&Command::bare(Verb::Quit));
                    self.push_write(now, Time::ZERO, quit);
                }
                self.abort(now, None, Some(what));
                return;
            }
        }
        if let Some(at) = self.wake_at {
            if now >= at {
                self.wake_at = None;
                self.next_message(now);
            }
        }
    }

    fn poll_event(&mut self, now: Time) -> Option<ClientEvent> {
        let event = self.outbox.poll(now).map(|(_, e)| e);
        if matches!(event, Some(ClientEvent::Send(_))) {
            self.writes_out += 1;
        }
        event
    }

    fn handle_tls(&mut self, now: Time, result: Result<(), String>) {
        self.tls_done(now, result);
    }

    fn poll_timeout(&self) -> Option<Time> {
        if let Some(at) = self.outbox.next_deadline() {
            return Some(at);
        }
        if self.closed {
            return None;
        }
        let deadline = self.expecting.front().map(|(_, d)| *d);
        match (deadline, self.wake_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
