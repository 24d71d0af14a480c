//! The interceptor: a middlebox between client and server with two half-sessions. Toward
//! the client it frames commands (and may answer some itself); toward the server it relays
//! them, adds its own (keepalives, resets, a replayed envelope) and swallows their replies.
//!
//! Its rules on commands and replies live in [`policy`], what it does to message content in
//! [`content`].
//!
//! Inputs: `handle_client_input`, `handle_server_input`, `handle_client_eof`,
//! `handle_server_eof`, `handle_timeout`. Outputs: `poll_event`, `poll_timeout`.

mod content;
mod policy;

use super::command::{Command, Verb};
use super::line::{Ending, Line, LineBuffer, LineLimits, Overflow};
use super::outbox::Outbox;
use super::reply::{Reply, ReplyParser};
use super::Time;
use crate::proto::dur::Dur;
use std::collections::VecDeque;
use std::sync::Arc;

/// When a held message goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Release {
    /// At the client's final `.`.
    Dot,
    /// At the client's QUIT (or any later command, or its disconnect).
    Quit,
}

/// What the interceptor does with the client's STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartTls {
    /// Relay it; once the server says 220 the rest of the connection is TLS between client
    /// and server, relayed byte for byte and not scanned.
    Relay,
    /// Answer it with `starttls_refusal` itself; the server never sees it.
    Refuse,
    /// Terminate TLS on both legs with the interceptor's own certificate toward the client
    /// (TLS inspection): the interceptor reads, and applies its rules to, everything.
    Intercept,
    /// Relay it, and the server's 220, as any other command, then go on reading the client as
    /// command lines: its TLS handshake is taken for a line that never ends, and both ends
    /// wait until a timeout (spampd: its SMTP code knows no STARTTLS).
    Unaware,
}

config! {
    $
    /// Everything an interceptor does that a scenario may change.
    pub struct InterceptorConfig at crate::proto::interceptor::InterceptorConfig, fields: interceptor_config_fields {
        /// Answer the client's DATA with this reply and hold the message (empty: relay DATA).
        pub data_reply: String,
        /// When a held message is sent upstream.
        pub release_on: crate::proto::interceptor::Release,
        /// Answer the client's final `.` with this reply at once (empty: relay the server's verdict).
        pub ack_dot: String,
        /// Sent upstream while a message is held (empty: nothing).
        pub keepalive_command: String,
        /// Interval between keepalive commands.
        pub keepalive_interval: crate::proto::dur::Dur,
        /// RSET commands sent upstream when the release starts.
        pub upstream_resets: u32,
        /// Time between those RSETs.
        pub reset_interval: crate::proto::dur::Dur,
        /// Scanning time before the held message goes upstream.
        pub scan_delay: crate::proto::dur::Dur,
        /// Resend MAIL and the accepted RCPTs before DATA (needed after an upstream RSET).
        pub replay_envelope: bool,
        /// Replace the banner text except '2', '0' and spaces with '*'.
        pub mask_banner: bool,
        /// The interceptor's own name in place of the server's: a positive banner becomes
        /// `220 NAME` (one line), and a positive EHLO or HELO reply's first line becomes NAME
        /// (empty, the default: the server's texts pass).
        pub own_hostname: String,
        /// Only these verbs pass; others go upstream as NOOP (empty: all pass).
        pub allowed_commands: Vec<String>,
        /// The client's answer to a command turned into NOOP (empty: the server's reply to the NOOP).
        pub rewritten_reply: String,
        /// EHLO keywords removed from the server's EHLO reply.
        pub strip_ehlo_keywords: Vec<String>,
        /// When the EHLO reply's last line is a keyword `strip_ehlo_keywords` removes, this
        /// keyword ends the reply in its place (proxsmtp's and clamsmtp's `XFILTERED`; empty, the
        /// default: the line before ends it).
        pub stripped_last_placeholder: String,
        /// An end-of-data `CRLF.CRLF` split across segments is held back until the client's next
        /// segment (Cisco PIX, Microsoft KB 295725).
        pub hold_split_terminator: bool,
        /// Largest message the interceptor holds, in bytes (0: no limit).
        pub buffer_limit: u64,
        /// The client's answer at '.' when the message was larger than `buffer_limit`.
        pub buffer_overflow_reply: String,
        /// What a client gets when the interceptor cannot reach its upstream, before the close
        /// (empty: just the close).
        pub upstream_failure_reply: String,
        /// What happens to the client's STARTTLS: relay, refuse, intercept, unaware.
        pub starttls: crate::proto::interceptor::StartTls,
        /// The client's answer to STARTTLS under `starttls = "refuse"`.
        pub starttls_refusal: String,
        /// Commands added, in plaintext, right after a relayed STARTTLS (a man in the middle
        /// exploiting CVE-2011-0411: a vulnerable server runs them inside the TLS session).
        pub inject_after_starttls: Vec<String>,
        /// The client's EHLO goes upstream as HELO with the same name, so the client gets the
        /// server's HELO reply: no ESMTP keywords at all (Untangle / Arista NG Firewall).
        pub ehlo_as_helo: bool,
        /// The client's answer to QUIT in place of the server's reply (empty: the server's).
        pub quit_reply: String,
        /// Verbs never relayed: each gets `blocked_reply` (a BDAT's chunk is discarded), or
        /// drops both connections when `blocked_reply` is empty (empty list: none blocked).
        pub blocked_commands: Vec<String>,
        /// The client's answer to a verb in `blocked_commands` (empty: the connection is
        /// dropped instead).
        pub blocked_reply: String,
        /// Longest client command line passed, in bytes without CRLF; a longer one drops both
        /// connections (0: no limit).
        pub max_command_line: u64,
        /// Most RCPT commands in one transaction; one more drops both connections (0: no limit).
        pub max_rcpt: u32,
        /// Longest sender address (MAIL FROM, between the angle brackets), in bytes; a longer
        /// one drops both connections (0: no limit).
        pub max_sender: u64,
        /// Longest header line of a message sent with DATA, in bytes without CRLF; a longer one
        /// drops both connections in the middle of the message (0: no limit).
        pub max_header_line: u64,
        /// Longest server reply line passed, in bytes without CRLF; a longer one drops both
        /// connections (0: no limit).
        pub max_reply_line: u64,
        /// A message sent with DATA whose content has this text in one line is a detection:
        /// the rest is discarded, the client gets `detection_reply` at its '.', and a message
        /// being relayed has its server connection cut mid-DATA (empty: nothing detected).
        pub block_signature: String,
        /// The client's answer at '.' to a message with `block_signature` in it; after it a
        /// relayed message's client connection is closed too. A 2xx reply drops the message
        /// while the sender is told it went (clamsmtp's `Action: drop`).
        pub detection_reply: String,
        /// RSET goes upstream when a held message is given up (refused for its content, or the
        /// client left in the middle of it), ending the transaction its relayed MAIL and RCPT
        /// opened (proxsmtp); a client that left has its server connection closed after it. Off by
        /// default.
        pub reset_abandoned: bool,
        /// The client's answer when the server closes while the client waits for the verdict on
        /// a held message, sent before the close (empty, the default: just the close).
        pub upstream_lost_reply: String,
        /// Put in front of the text of a message's first Subject header (empty: no tag).
        pub subject_tag: String,
        /// Lines added at the end of every message sent with DATA, before the final '.'
        /// (`\n` between lines; empty: nothing added).
        pub body_footer: String,
        /// A header field added at the end of the header section of every message sent with
        /// DATA, e.g. clamsmtp's `X-Virus-Scanned: ClamAV using ClamSMTP` (empty, the default:
        /// none; a message with no empty line after its header gets none).
        pub added_header: String,
        /// Client commands go upstream one at a time: a command waits, unread, until the
        /// server has answered the one before, whatever the client pipelined; input left when
        /// the client closes is still relayed (spampd reads, relays, and waits for the reply,
        /// one line at a time). Off by default.
        pub lock_step: bool,
        /// DATA is relayed and the server's 354 goes to the client, then the content is held
        /// until the client's '.' and sent upstream after `scan_delay` with its '.' in one go
        /// (spampd: the server sees DATA at once and the message only after the scan). Off by
        /// default; with `data_reply` set, the interceptor answers DATA itself instead.
        pub hold_body: bool,
        /// Header fields put at the top of a held message without `tag_signature`, before its
        /// first line (spampd `--tagall`: SpamAssassin's X-Spam-Checker-Version, X-Spam-Level,
        /// X-Spam-Status). Empty, the default: none.
        pub top_headers: Vec<String>,
        /// A held message with this text in one line is tagged, not refused: it is delivered
        /// with `tag_headers` at its top in place of `top_headers` (SpamAssassin's verdict on
        /// the GTUBE test string). Empty, the default: nothing tagged.
        pub tag_signature: String,
        /// Header fields put at the top of a held message with `tag_signature` in it.
        pub tag_headers: Vec<String>,
        /// A held message given header fields at its top loses the empty lines at its end
        /// (spampd splits the rewritten message into lines, which drops trailing empty ones).
        /// Off by default.
        pub trim_trailing_blank_lines: bool,
        /// When the server has closed, the client gets an empty line (`CRLF`) for the reply
        /// it is owed, and for its next command, which still goes to the closed connection (a
        /// reply the server sent before it closed, left unread under `lock_step`, is given
        /// instead); the
        /// command after that, or the end of a held message, closes both connections (spampd:
        /// its SMTP client reads no reply at the server's close and writes the empty one; its
        /// second write to the closed socket fails and the session ends). Off by default: the
        /// client connection is closed with the server's.
        pub server_gone_empty_reply: bool,
        /// With `hold_body`: a refusal of DATA in more than one line is relayed but missed:
        /// what the client sends next (its RSET or QUIT) is held as message content until a
        /// '.' line (spampd leaves its data state only on a one-line 4xx or 5xx reply). Off by
        /// default.
        pub multiline_data_refusal_missed: bool,
    }
}

/// Something the interceptor does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterceptorEvent {
    /// One write toward the client.
    ToClient(Vec<u8>),
    /// One write toward the server.
    ToServer(Vec<u8>),
    /// A decision worth a transcript line.
    Note(String),
    /// Close the client connection.
    CloseClient,
    /// Close the server connection.
    CloseServer,
    /// TLS between client and server from here on: both legs carry records the interceptor
    /// cannot read; it relays them byte for byte.
    Blind,
    /// Run a TLS client handshake on the server leg (`starttls = "intercept"`), then report
    /// it with [`InterceptorSession::handle_server_tls`].
    TlsToServer,
    /// Run a TLS server handshake on the client leg with the interceptor's own certificate,
    /// then report it with [`InterceptorSession::handle_client_tls`].
    TlsToClient,
}

/// Who is waiting for an upstream reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// The banner, relayed to the client.
    Banner,
    /// A client command, relayed. `rewritten` if it went upstream as NOOP.
    Client {
        verb: Verb,
        rewritten: bool,
        rcpt_line: Option<Vec<u8>>,
    },
    /// The client's end of data, relayed: the server's verdict goes back to the client.
    EndOfData,
    /// One of the interceptor's own commands; the reply is swallowed.
    Own(&'static str),
}

/// A step of the release of a held message.
#[derive(Debug, Clone)]
enum Step {
    Send(Vec<u8>, &'static str),
    Sleep(Time),
    Scan(Time),
    Data,
    Body,
}

/// Client input that waits while a release runs: command lines, and the raw bytes of a BDAT
/// chunk sent after its command.
#[derive(Debug, Clone)]
enum Pending {
    Line(Line),
    Chunk(Vec<u8>),
}

/// What becomes of the bytes of a BDAT chunk (RFC 3030): always data, never command lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkFate {
    /// Its BDAT went upstream: the bytes follow it.
    Relay,
    /// Its BDAT went upstream as NOOP: the bytes would be read as commands there.
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientSide {
    Commands,
    /// Relaying message content (the server said 354).
    Body,
    /// Holding message content (we said 354).
    Holding,
}

/// One intercepted connection.
#[derive(Debug)]
pub struct InterceptorSession {
    cfg: Arc<InterceptorConfig>,
    from_client: LineBuffer,
    from_server: ReplyParser,
    client_side: ClientSide,
    upstream: VecDeque<Origin>,
    outbox: Outbox<InterceptorEvent>,
    /// Client input waiting while a release runs.
    backlog: VecDeque<Pending>,
    mail_line: Option<Vec<u8>>,
    accepted_rcpts: Vec<Vec<u8>>,
    held: Vec<u8>,
    /// A complete message is held and not yet released.
    held_complete: bool,
    /// The client got our own ack for the held message.
    acked_early: bool,
    plan: VecDeque<Step>,
    /// Waiting for the reply to the release's current step.
    plan_waiting: bool,
    plan_wake: Option<Time>,
    next_keepalive: Option<Time>,
    /// Stream offsets of the client's segment boundaries, for split-terminator detection.
    boundaries: VecDeque<u64>,
    client_offset: u64,
    framed_offset: u64,
    client_gone: bool,
    server_gone: bool,
    closed: bool,
    /// A split end-of-data line held back (PIX), passed on with the next client segment.
    withheld: Option<Line>,
    passing_withheld: bool,
    /// The held message outgrew `buffer_limit`.
    overflowed: bool,
    /// TLS from end to end: bytes are relayed unread.
    blind: bool,
    /// The server's 220 to an intercepted STARTTLS, sent to the client once the server leg
    /// is in TLS.
    intercepting: Option<Reply>,
    /// Bytes of the client's current BDAT chunk still to come.
    chunk_left: u64,
    /// What the last BDAT the interceptor acted on means for its chunk's bytes.
    chunk_fate: ChunkFate,
    /// The interceptor's own answer to a pipelined DATA, held until the server's replies to
    /// the commands before it have gone to the client: (replies still owed, the answer).
    local_reply: Option<(usize, Vec<u8>)>,
    /// Where the interceptor is in the current message's content.
    content: content::Content,
    /// What the count limits remember of the current transaction.
    counts: policy::Counts,
    /// `block_signature` was found in the current message.
    detected: bool,
    /// The rules dropped the connection: nothing more happens.
    dropped: bool,
    /// `server_gone_empty_reply`: client commands the closed server connection still takes.
    dead_writes: u8,
}

impl InterceptorSession {
    /// A session for a client connection accepted at `now` whose upstream connection is open.
    pub fn new(cfg: Arc<InterceptorConfig>, now: Time) -> Self {
        InterceptorSession {
            cfg,
            from_client: LineBuffer::new(LineLimits {
                max_len: 8192,
                bare_lf_ends_line: false,
                overflow: Overflow::Split,
            }),
            from_server: ReplyParser::new(),
            client_side: ClientSide::Commands,
            upstream: VecDeque::from([Origin::Banner]),
            outbox: Outbox::new(now),
            backlog: VecDeque::new(),
            mail_line: None,
            accepted_rcpts: Vec::new(),
            held: Vec::new(),
            held_complete: false,
            acked_early: false,
            plan: VecDeque::new(),
            plan_waiting: false,
            plan_wake: None,
            next_keepalive: None,
            boundaries: VecDeque::new(),
            client_offset: 0,
            framed_offset: 0,
            client_gone: false,
            server_gone: false,
            closed: false,
            withheld: None,
            passing_withheld: false,
            overflowed: false,
            blind: false,
            intercepting: None,
            chunk_left: 0,
            chunk_fate: ChunkFate::Relay,
            local_reply: None,
            content: content::Content::default(),
            counts: policy::Counts::default(),
            detected: false,
            dropped: false,
            dead_writes: 0,
        }
    }

    /// The server leg's TLS handshake (`TlsToServer`) ended: on success the server's 220 goes
    /// to the client and the client leg's handshake follows; on failure both legs close.
    pub fn handle_server_tls(&mut self, now: Time, result: Result<(), String>) {
        let Some(ready) = self.intercepting.take() else {
            return;
        };
        match result {
            Ok(()) => {
                self.push(now, InterceptorEvent::ToClient(ready.to_wire()));
                self.push(now, InterceptorEvent::TlsToClient);
            }
            // The driver has said why in the transcript.
            Err(_) => self.close_both(now),
        }
    }

    /// The client leg's TLS handshake (`TlsToClient`) ended.
    pub fn handle_client_tls(&mut self, now: Time, result: Result<(), String>) {
        match result {
            Ok(()) => self.note(
                now,
                "TLS intercepted: the client's session ends here, under the interceptor's own \
                 certificate; everything is read in clear"
                    .into(),
            ),
            Err(_) => self.close_both(now),
        }
    }

    fn close_both(&mut self, now: Time) {
        for (gone, event) in [
            (self.client_gone, InterceptorEvent::CloseClient),
            (self.server_gone, InterceptorEvent::CloseServer),
        ] {
            if !gone {
                self.push(now, event);
            }
        }
        self.client_gone = true;
        self.server_gone = true;
        self.maybe_close(now);
    }

    /// True once both sides are closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// One read's worth of bytes from the client.
    pub fn handle_client_input(&mut self, now: Time, bytes: &[u8]) {
        if self.client_gone || self.dropped {
            return;
        }
        if self.blind {
            self.push(now, InterceptorEvent::ToServer(bytes.to_vec()));
            return;
        }
        self.boundaries.push_back(self.client_offset);
        self.client_offset += bytes.len() as u64;
        self.from_client.push(bytes);
        let mut relay = Vec::new();
        if let Some(dot) = self.withheld.take() {
            self.note(
                now,
                "passing the held-back end of data on with the client's next segment".into(),
            );
            self.passing_withheld = true;
            self.client_line(now, dot, 0, &mut relay);
            self.passing_withheld = false;
        }
        while !self.blind && self.intercepting.is_none() && !self.dropped && !self.closed {
            if self.chunk_left > 0 {
                let max = usize::try_from(self.chunk_left).unwrap_or(usize::MAX);
                let bytes = self.from_client.take_raw(max);
                if bytes.is_empty() {
                    break;
                }
                self.chunk_left -= bytes.len() as u64;
                self.framed_offset += bytes.len() as u64;
                self.client_chunk(bytes, &mut relay);
                continue;
            }
            let Some(line) = self.from_client.next_line() else {
                break;
            };
            let start = self.framed_offset;
            self.framed_offset += line.wire().len() as u64;
            self.client_line(now, line, start, &mut relay);
        }
        self.flush_relay(now, &mut relay);
        while self.boundaries.len() > 1 && self.boundaries[1] + 8 < self.framed_offset {
            self.boundaries.pop_front();
        }
    }

    /// Bytes from the server.
    pub fn handle_server_input(&mut self, now: Time, bytes: &[u8]) {
        if self.dropped {
            return;
        }
        if self.blind {
            self.push(now, InterceptorEvent::ToClient(bytes.to_vec()));
            return;
        }
        self.from_server.push(bytes);
        self.read_server(now);
    }

    /// The server's replies received so far, handled in order. Under `lock_step` a reply is
    /// read only while one is owed: the rest wait, unread, for the command they will be taken
    /// as the answer to (spampd reads the server only when it expects a reply).
    fn read_server(&mut self, now: Time) {
        let mut relay = Vec::new();
        while !self.blind && !self.dropped {
            if self.cfg.lock_step && self.upstream.is_empty() {
                break;
            }
            let Some(parsed) = self.from_server.next_reply() else {
                break;
            };
            match parsed {
                Ok(reply) => {
                    if let Some(why) = policy::reply(&self.cfg, &reply) {
                        if !relay.is_empty() {
                            self.push(now, InterceptorEvent::ToClient(std::mem::take(&mut relay)));
                        }
                        self.drop_connection(now, why);
                        break;
                    }
                    let owed = self
                        .upstream
                        .front()
                        .is_some_and(|o| !matches!(o, Origin::Own(_)));
                    self.server_reply(now, reply, &mut relay);
                    if owed {
                        self.local_reply_due(&mut relay);
                        if self.cfg.lock_step && !self.must_wait() {
                            if !relay.is_empty() {
                                self.push(now, InterceptorEvent::ToClient(std::mem::take(&mut relay)));
                            }
                            self.resume_backlog(now);
                        }
                    }
                }
                Err(e) => self.note(now, format!("unparseable reply from server: {e}")),
            }
        }
        if !relay.is_empty() {
            self.push(now, InterceptorEvent::ToClient(relay));
        }
    }

    /// The client closed its side.
    pub fn handle_client_eof(&mut self, now: Time) {
        if self.client_gone {
            return;
        }
        self.client_gone = true;
        if self.held_complete && self.plan.is_empty() && !self.plan_waiting {
            self.note(now, "client gone with a message held: releasing it".into());
            self.start_release(now);
        } else if matches!(self.client_side, ClientSide::Holding) {
            self.note(
                now,
                "client gone mid-message: held content discarded".into(),
            );
            self.held.clear();
            self.reset_abandoned(now);
        }
        if !self.must_wait() && self.backlog.is_empty() && !self.server_gone {
            self.push(now, InterceptorEvent::CloseServer);
            self.server_gone = true;
        }
        self.maybe_close(now);
    }

    /// The server closed its side.
    pub fn handle_server_eof(&mut self, now: Time) {
        if self.server_gone {
            return;
        }
        self.server_gone = true;
        if self.cfg.server_gone_empty_reply && !self.client_gone {
            return self.server_gone_open(now);
        }
        if self.held_complete || self.plan_waiting || !self.plan.is_empty() {
            let what = if self.acked_early {
                "the client was already told 250: the message is lost"
            } else {
                "message not delivered"
            };
            self.note(now, format!("server closed with a held message: {what}"));
            // Written even to a client that has closed its side: it may still be reading
            // (proxsmtp writes until a write fails).
            if !self.acked_early {
                if let Some(reply) = Reply::from_template(&self.cfg.upstream_lost_reply) {
                    self.push(now, InterceptorEvent::ToClient(reply.to_wire()));
                }
            }
            self.held_complete = false;
            self.plan.clear();
            self.plan_waiting = false;
        }
        if !self.client_gone {
            self.push(now, InterceptorEvent::CloseClient);
            self.client_gone = true;
        }
        self.maybe_close(now);
    }

    /// `server_gone_empty_reply`: the server closed; the client connection stays open. A reply
    /// owed is an empty line; the next command gets one too.
    fn server_gone_open(&mut self, now: Time) {
        let owed = self.upstream.iter().any(|o| !matches!(o, Origin::Own(_)))
            || self.release_running()
            || self.held_complete;
        self.upstream.clear();
        self.plan.clear();
        self.plan_waiting = false;
        self.plan_wake = None;
        self.held_complete = false;
        self.next_keepalive = None;
        self.dead_writes = 1;
        if owed {
            self.note(
                now,
                "server closed with a reply owed: the client gets an empty line".into(),
            );
            self.push(now, InterceptorEvent::ToClient(b"\r\n".to_vec()));
        } else {
            self.note(now, "server closed: the client connection stays open".into());
        }
        self.resume_backlog(now);
    }

    /// A client command or a held message's release meets the closed server connection
    /// (`server_gone_empty_reply`): an empty line while it still takes writes, else both
    /// connections closed.
    fn to_dead_server(&mut self, now: Time, what: &str) {
        if self.dead_writes > 0 && what != "the held message" {
            self.dead_writes -= 1;
            // The server's last words, unread until now, are taken as the reply.
            if let Some(Ok(reply)) = self.from_server.next_reply() {
                self.note(
                    now,
                    format!("{what} written to the closed server connection: answered with what the server sent before it closed"),
                );
                self.push(now, InterceptorEvent::ToClient(reply.to_wire()));
                return;
            }
            self.note(
                now,
                format!("{what} written to the closed server connection: an empty line back"),
            );
            self.push(now, InterceptorEvent::ToClient(b"\r\n".to_vec()));
        } else {
            self.note(
                now,
                format!("{what} cannot be written to the closed server connection: both closed"),
            );
            self.close_both(now);
        }
    }

    /// Call when `now` reaches [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Time) {
        if let Some(at) = self.next_keepalive.filter(|at| now >= *at) {
            if self.keepalive_active() {
                let command = self.cfg.keepalive_command.clone();
                self.send_own(now, format!("{command}\r\n").into_bytes(), "keepalive");
                self.next_keepalive = Some(at + self.cfg.keepalive_interval.0);
            } else {
                self.next_keepalive = None;
            }
        }
        if let Some(at) = self.plan_wake {
            if now >= at {
                self.plan_wake = None;
                self.run_plan(now);
            }
        }
    }

    /// The next event due at or before `now`.
    pub fn poll_event(&mut self, now: Time) -> Option<InterceptorEvent> {
        self.outbox.poll(now).map(|(_, e)| e)
    }

    /// When the session next needs attention.
    pub fn poll_timeout(&self) -> Option<Time> {
        if let Some(at) = self.outbox.next_deadline() {
            return Some(at);
        }
        [self.next_keepalive, self.plan_wake]
            .into_iter()
            .flatten()
            .min()
    }

    fn client_line(&mut self, now: Time, line: Line, start: u64, relay: &mut Vec<u8>) {
        let in_content = matches!(self.client_side, ClientSide::Body | ClientSide::Holding);
        if in_content
            && is_dot(&line)
            && !self.passing_withheld
            && self.cfg.hold_split_terminator
            && self.terminator_split(start)
        {
            self.note(
                now,
                "end of data split across segments: held back until the client's next segment"
                    .into(),
            );
            self.withheld = Some(line);
            return;
        }
        if in_content && is_dot(&line) && std::mem::take(&mut self.detected) {
            return self.detection_answered(now);
        }
        let content = match self.client_side {
            ClientSide::Commands => None,
            _ if is_dot(&line) => None,
            _ if self.detected => return,
            _ => match self.content.line(&self.cfg, &line) {
                content::Fate::Pass(bytes, note) => {
                    if let Some(note) = note {
                        self.note(now, note);
                    }
                    Some(bytes)
                }
                content::Fate::Drop(why) => {
                    self.flush_relay(now, relay);
                    return self.drop_connection(now, why);
                }
                content::Fate::Detected => return self.detect(now, relay),
            },
        };
        match self.client_side {
            ClientSide::Body => {
                if is_dot(&line) {
                    self.client_side = ClientSide::Commands;
                    self.upstream.push_back(Origin::EndOfData);
                    relay.extend_from_slice(&self.footer(now));
                    relay.extend_from_slice(&line.wire());
                } else {
                    relay.extend_from_slice(&content.unwrap_or_default());
                }
            }
            ClientSide::Holding => {
                let content = content.unwrap_or_default();
                if is_dot(&line) {
                    self.client_side = ClientSide::Commands;
                    if std::mem::take(&mut self.overflowed) {
                        self.held.clear();
                        self.note(now, "message over the buffer limit refused".into());
                        let reply = Reply::from_template(&self.cfg.buffer_overflow_reply)
                            .unwrap_or_else(|| Reply::new(552, "too big"));
                        self.push(now, InterceptorEvent::ToClient(reply.to_wire()));
                        return;
                    }
                    let footer = self.footer(now);
                    self.held.extend_from_slice(&footer);
                    if let Some(note) =
                        content::rewrite_held(&self.cfg, self.content.spam, &mut self.held)
                    {
                        self.note(now, note);
                    }
                    self.held_complete = true;
                    self.note(now, format!("message held ({} bytes)", self.held.len()));
                    if !self.cfg.ack_dot.is_empty() {
                        self.acked_early = true;
                        self.note(
                            now,
                            "early ack: told the client 250 before the server has the message"
                                .into(),
                        );
                        let ack = Reply::from_template(&self.cfg.ack_dot)
                            .unwrap_or_else(|| Reply::new(250, "OK"));
                        self.push(now, InterceptorEvent::ToClient(ack.to_wire()));
                    }
                    if self.server_gone && self.cfg.server_gone_empty_reply {
                        self.held_complete = false;
                        self.held.clear();
                        return self.to_dead_server(now, "the held message");
                    }
                    if self.cfg.release_on == Release::Dot {
                        self.start_release(now);
                    }
                } else if self.cfg.buffer_limit > 0
                    && self.held.len() as u64 + content.len() as u64 > self.cfg.buffer_limit
                {
                    if !self.overflowed {
                        self.overflowed = true;
                        self.note(
                            now,
                            format!(
                                "buffer limit of {} bytes reached: the rest is not kept",
                                self.cfg.buffer_limit
                            ),
                        );
                    }
                } else {
                    self.held.extend_from_slice(&content);
                }
            }
            ClientSide::Commands => {
                // A BDAT's chunk follows it, whatever is done with the command.
                if let Some((size, _)) = Command::parse(&line.bytes).and_then(|c| c.bdat()) {
                    self.chunk_left = size;
                }
                if self.must_wait() || (self.cfg.lock_step && !self.backlog.is_empty()) {
                    self.backlog.push_back(Pending::Line(line));
                    return;
                }
                self.client_command(now, line, relay);
            }
        }
    }

    fn client_command(&mut self, now: Time, line: Line, relay: &mut Vec<u8>) {
        let command = Command::parse(&line.bytes);
        let verb = command
            .as_ref()
            .map(|c| c.verb.clone())
            .unwrap_or(Verb::Other(String::new()));
        if self.server_gone && self.cfg.server_gone_empty_reply {
            self.flush_relay(now, relay);
            return self.to_dead_server(now, verb.name());
        }
        if self.held_complete {
            // Any command after a held message releases it first (the telnet case: QUIT).
            self.flush_relay(now, relay);
            self.note(
                now,
                format!(
                    "{} from the client: releasing the held message",
                    verb.name()
                ),
            );
            self.backlog.push_back(Pending::Line(line));
            self.start_release(now);
            return;
        }
        match policy::command(&self.cfg, &mut self.counts, &line.bytes, command.as_ref()) {
            policy::Ruling::Pass => {}
            policy::Ruling::Refuse(reply) => {
                self.flush_relay(now, relay);
                self.note(now, format!("{} blocked: answered {reply}", verb.name()));
                self.chunk_fate = ChunkFate::Drop;
                return self.reply_in_order(now, reply.to_wire());
            }
            policy::Ruling::Drop(why) => {
                self.flush_relay(now, relay);
                return self.drop_connection(now, why);
            }
        }
        if verb == Verb::Data && !self.cfg.data_reply.is_empty() {
            self.flush_relay(now, relay);
            self.note(
                now,
                "DATA held: answered 354 locally, nothing sent upstream".into(),
            );
            let reply = Reply::from_template(&self.cfg.data_reply)
                .unwrap_or_else(|| Reply::new(354, "go ahead"));
            self.reply_in_order(now, reply.to_wire());
            self.client_side = ClientSide::Holding;
            self.content = content::Content::default();
            self.held.clear();
            self.acked_early = false;
            if !self.cfg.keepalive_command.is_empty() && !self.cfg.keepalive_interval.0.is_zero() {
                self.next_keepalive = Some(now + self.cfg.keepalive_interval.0);
            }
            return;
        }
        let allowed = self.cfg.allowed_commands.is_empty()
            || self
                .cfg
                .allowed_commands
                .iter()
                .any(|a| a.eq_ignore_ascii_case(verb.name()));
        if verb == Verb::Bdat {
            self.chunk_fate = if allowed {
                ChunkFate::Relay
            } else {
                ChunkFate::Drop
            };
            if allowed && !self.cfg.data_reply.is_empty() {
                self.note(now, "BDAT relayed unscanned: only DATA is held".into());
            }
        }
        if !allowed {
            let chunk = if verb == Verb::Bdat {
                ", its chunk dropped"
            } else {
                ""
            };
            self.note(now, format!("{} rewritten to NOOP{chunk}", verb.name()));
            relay.extend_from_slice(b"NOOP\r\n");
            self.upstream.push_back(Origin::Client {
                verb,
                rewritten: true,
                rcpt_line: None,
            });
            return;
        }
        if verb == Verb::StartTls && self.starttls(now, &line, relay) {
            return;
        }
        match verb {
            Verb::Mail => {
                self.mail_line = Some(line.wire());
                self.accepted_rcpts.clear();
            }
            Verb::Rset | Verb::Helo | Verb::Ehlo => {
                self.mail_line = None;
                self.accepted_rcpts.clear();
            }
            _ => {}
        }
        let rcpt_line = (verb == Verb::Rcpt).then(|| line.wire());
        if verb == Verb::Ehlo && self.cfg.ehlo_as_helo {
            self.note(now, "EHLO rewritten to HELO".into());
            // The verb, after any blanks before it, is the four bytes replaced.
            let blank = |b: &&u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c);
            let blanks = line.bytes.iter().take_while(blank).count();
            relay.extend_from_slice(b"HELO");
            relay.extend_from_slice(&line.wire()[blanks + 4..]);
        } else {
            relay.extend_from_slice(&line.wire());
        }
        self.upstream.push_back(Origin::Client {
            verb,
            rewritten: false,
            rcpt_line,
        });
    }

    /// Bytes of a BDAT chunk: data, relayed or dropped as its command was, or kept in order
    /// behind the commands waiting for a release.
    fn client_chunk(&mut self, bytes: Vec<u8>, relay: &mut Vec<u8>) {
        if self.must_wait() || (self.cfg.lock_step && !self.backlog.is_empty()) {
            self.backlog.push_back(Pending::Chunk(bytes));
        } else if self.chunk_fate == ChunkFate::Relay {
            relay.extend_from_slice(&bytes);
        }
    }

    /// The interceptor's own answer to a command, to the client in order (RFC 2920): behind
    /// the replies owed to pipelined commands before it.
    fn reply_in_order(&mut self, now: Time, bytes: Vec<u8>) {
        let owed = self
            .upstream
            .iter()
            .filter(|o| !matches!(o, Origin::Own(_)))
            .count();
        match &mut self.local_reply {
            Some((_, waiting)) => waiting.extend_from_slice(&bytes),
            None if owed == 0 => self.push(now, InterceptorEvent::ToClient(bytes)),
            None => self.local_reply = Some((owed, bytes)),
        }
    }

    /// The rules drop the connection: both legs closed, nothing more relayed or sent.
    fn drop_connection(&mut self, now: Time, why: String) {
        self.note(now, format!("connection dropped: {why}"));
        self.plan.clear();
        self.plan_waiting = false;
        self.plan_wake = None;
        self.next_keepalive = None;
        self.held_complete = false;
        self.dropped = true;
        self.close_both(now);
    }

    /// `block_signature` found in the message being sent: a relayed message's server
    /// connection is cut here, mid-DATA; the rest of the content is discarded.
    fn detect(&mut self, now: Time, relay: &mut Vec<u8>) {
        self.detected = true;
        self.flush_relay(now, relay);
        if self.client_side == ClientSide::Body {
            self.note(
                now,
                "signature found while relaying: the server connection is cut mid-DATA".into(),
            );
            if !self.server_gone {
                self.push(now, InterceptorEvent::CloseServer);
                self.server_gone = true;
            }
            self.upstream.clear();
        } else {
            self.note(
                now,
                "signature found: the held message will not be sent".into(),
            );
            self.held.clear();
        }
    }

    /// The client's '.' after a detection: `detection_reply`, and for a relayed message the
    /// client connection closed (its server connection is gone).
    fn detection_answered(&mut self, now: Time) {
        let relayed = self.client_side == ClientSide::Body;
        self.client_side = ClientSide::Commands;
        let reply = Reply::from_template(&self.cfg.detection_reply)
            .unwrap_or_else(|| Reply::new(554, "infected"));
        if reply.is_positive() {
            self.note(
                now,
                format!("message dropped for its content, the client told {reply}"),
            );
        } else {
            self.note(now, format!("message refused for its content: {reply}"));
        }
        self.push(now, InterceptorEvent::ToClient(reply.to_wire()));
        if !relayed {
            self.reset_abandoned(now);
        }
        if relayed && !self.client_gone {
            self.push(now, InterceptorEvent::CloseClient);
            self.client_gone = true;
            self.maybe_close(now);
        }
    }

    /// The `body_footer` lines, noted when there are some.
    fn footer(&mut self, now: Time) -> Vec<u8> {
        let footer = content::footer(&self.cfg);
        if !footer.is_empty() {
            self.note(
                now,
                format!("note of {} bytes appended to the body", footer.len()),
            );
        }
        footer
    }

    /// A reply owed to the client went to it: the interceptor's own answer behind it may follow.
    fn local_reply_due(&mut self, relay: &mut Vec<u8>) {
        if let Some((owed, _)) = &mut self.local_reply {
            *owed -= 1;
            if *owed == 0 {
                let (_, bytes) = self.local_reply.take().expect("checked");
                relay.extend_from_slice(&bytes);
            }
        }
    }

    fn server_reply(&mut self, now: Time, reply: Reply, relay: &mut Vec<u8>) {
        let Some(origin) = self.upstream.pop_front() else {
            self.note(
                now,
                format!("unsolicited reply from server relayed: {reply}"),
            );
            relay.extend_from_slice(&reply.to_wire());
            return;
        };
        match origin {
            Origin::Banner => {
                let reply = if self.cfg.mask_banner {
                    mask_banner(&reply)
                } else {
                    reply
                };
                if self.cfg.mask_banner {
                    self.note(now, "banner masked".into());
                }
                let reply = match self.own_name() {
                    Some(name) if reply.is_positive() => {
                        self.note(now, format!("banner replaced with its own: {name}"));
                        Reply::new(reply.code, name)
                    }
                    _ => reply,
                };
                relay.extend_from_slice(&reply.to_wire());
            }
            Origin::Client {
                verb,
                rewritten,
                rcpt_line,
            } => {
                if rewritten && !self.cfg.rewritten_reply.is_empty() {
                    let own = Reply::from_template(&self.cfg.rewritten_reply)
                        .unwrap_or_else(|| Reply::new(500, "unrecognized"));
                    relay.extend_from_slice(&own.to_wire());
                    return;
                }
                let mut reply = reply;
                if verb == Verb::Ehlo
                    && reply.is_positive()
                    && !self.cfg.strip_ehlo_keywords.is_empty()
                {
                    let strip = &self.cfg.strip_ehlo_keywords;
                    let last_line_stripped = reply.lines.len() > 1
                        && reply.lines.last().is_some_and(|l| {
                            let keyword = l.split_whitespace().next().unwrap_or("");
                            strip.iter().any(|s| s.eq_ignore_ascii_case(keyword))
                        });
                    let first = reply.lines.remove(0);
                    let mut stripped = Vec::new();
                    reply.lines.retain(|l| {
                        let keyword = l.split_whitespace().next().unwrap_or("");
                        let hit = strip.iter().any(|s| s.eq_ignore_ascii_case(keyword));
                        if hit {
                            stripped.push(keyword.to_string());
                        }
                        !hit
                    });
                    reply.lines.insert(0, first);
                    if last_line_stripped && !self.cfg.stripped_last_placeholder.is_empty() {
                        reply.lines.push(self.cfg.stripped_last_placeholder.clone());
                    }
                    if !stripped.is_empty() {
                        self.note(
                            now,
                            format!("stripped {} from the EHLO reply", stripped.join(", ")),
                        );
                    }
                }
                if matches!(verb, Verb::Ehlo | Verb::Helo) && reply.is_positive() {
                    if let Some(name) = self.own_name() {
                        reply.lines[0] = name;
                    }
                }
                let refusal_missed = self.cfg.multiline_data_refusal_missed
                    && reply.lines.len() > 1
                    && !reply.is_positive();
                if verb == Verb::Data && (reply.code == 354 || refusal_missed) {
                    self.content = content::Content::default();
                    if refusal_missed {
                        self.note(
                            now,
                            format!(
                                "DATA refused in {} lines, taken as a go-ahead: what the client \
                                 sends next is held as the message",
                                reply.lines.len()
                            ),
                        );
                    }
                    if self.cfg.hold_body {
                        if !refusal_missed {
                            self.note(
                                now,
                                "DATA relayed: the message is held until the client's '.'"
                                    .into(),
                            );
                        }
                        self.client_side = ClientSide::Holding;
                        self.held.clear();
                        self.acked_early = false;
                    } else {
                        self.client_side = ClientSide::Body;
                    }
                }
                if verb == Verb::Quit && !self.cfg.quit_reply.is_empty() {
                    if let Some(own) = Reply::from_template(&self.cfg.quit_reply) {
                        self.note(now, format!("the server's {reply} to QUIT rewritten"));
                        reply = own;
                    }
                }
                if verb == Verb::StartTls
                    && reply.code == 220
                    && self.cfg.starttls != StartTls::Unaware
                {
                    return self.server_ready_for_tls(now, reply, relay);
                }
                if let Some(line) = rcpt_line.filter(|_| reply.is_positive()) {
                    self.accepted_rcpts.push(line);
                }
                relay.extend_from_slice(&reply.to_wire());
            }
            Origin::EndOfData => relay.extend_from_slice(&reply.to_wire()),
            Origin::Own(what) => self.own_reply(now, what, reply, relay),
        }
    }

    /// `reset_abandoned`: RSET upstream for a held message given up.
    fn reset_abandoned(&mut self, now: Time) {
        if self.cfg.reset_abandoned && !self.server_gone {
            self.send_own(now, b"RSET\r\n".to_vec(), "reset of an abandoned message");
        }
    }

    /// `own_hostname`, when set.
    fn own_name(&self) -> Option<String> {
        Some(self.cfg.own_hostname.clone()).filter(|n| !n.is_empty())
    }

    fn own_reply(&mut self, now: Time, what: &'static str, reply: Reply, relay: &mut Vec<u8>) {
        if what == "keepalive" {
            if !reply.is_positive() {
                self.note(now, format!("keepalive answered {reply}"));
            }
            return;
        }
        if !self.plan_waiting {
            return;
        }
        self.plan_waiting = false;
        let ok = match what {
            "data" => reply.code == 354,
            "reset" => true,
            _ => reply.is_positive(),
        };
        if what == "body" || !ok {
            self.verdict(now, reply, relay);
            return;
        }
        self.run_plan(now);
    }

    /// The server's answer to the released message (or the failure that ended the release).
    fn verdict(&mut self, now: Time, reply: Reply, relay: &mut Vec<u8>) {
        self.plan.clear();
        self.held_complete = false;
        self.held.clear();
        if self.acked_early {
            let fate = if reply.is_positive() {
                "delivered"
            } else {
                "lost: the client was already told 250"
            };
            self.note(
                now,
                format!("server verdict {reply} swallowed; message {fate}"),
            );
        } else {
            relay.extend_from_slice(&reply.to_wire());
        }
        self.acked_early = false;
        self.resume_backlog(now);
    }

    /// The client's STARTTLS under the `starttls` knob; true if it is dealt with (refused
    /// here), false to relay it (with any injected commands after it).
    fn starttls(&mut self, now: Time, line: &Line, relay: &mut Vec<u8>) -> bool {
        if self.cfg.starttls == StartTls::Refuse {
            self.flush_relay(now, relay);
            self.note(now, "STARTTLS refused by the interceptor".into());
            let reply = Reply::from_template(&self.cfg.starttls_refusal)
                .unwrap_or_else(|| Reply::new(454, "TLS not available"));
            self.push(now, InterceptorEvent::ToClient(reply.to_wire()));
            return true;
        }
        if self.cfg.starttls == StartTls::Relay && !self.cfg.inject_after_starttls.is_empty() {
            relay.extend_from_slice(&line.wire());
            self.upstream.push_back(Origin::Client {
                verb: Verb::StartTls,
                rewritten: false,
                rcpt_line: None,
            });
            let mut injected = Vec::new();
            for command in &self.cfg.inject_after_starttls {
                injected.extend_from_slice(command.as_bytes());
                injected.extend_from_slice(b"\r\n");
                self.upstream.push_back(Origin::Own("injected"));
            }
            relay.extend_from_slice(&injected);
            self.note(
                now,
                format!(
                    "injected after STARTTLS, in plaintext: {}",
                    self.cfg.inject_after_starttls.join(" | ")
                ),
            );
            return true;
        }
        false
    }

    /// The server said 220 to a relayed STARTTLS: either the connection goes blind (relay)
    /// or the interceptor starts TLS toward the server itself (intercept).
    fn server_ready_for_tls(&mut self, now: Time, reply: Reply, relay: &mut Vec<u8>) {
        let pending = self.from_client.take_raw(usize::MAX);
        if self.cfg.starttls == StartTls::Intercept {
            if !pending.is_empty() {
                self.note(
                    now,
                    format!("{} bytes sent after STARTTLS discarded", pending.len()),
                );
            }
            if !relay.is_empty() {
                self.push(now, InterceptorEvent::ToClient(std::mem::take(relay)));
            }
            self.upstream.clear();
            self.intercepting = Some(reply);
            self.push(now, InterceptorEvent::TlsToServer);
            return;
        }
        relay.extend_from_slice(&reply.to_wire());
        self.push(now, InterceptorEvent::ToClient(std::mem::take(relay)));
        self.note(
            now,
            "TLS passed through unscanned: the rest of this connection is encrypted end to end"
                .into(),
        );
        self.blind = true;
        self.upstream.clear();
        self.push(now, InterceptorEvent::Blind);
        if !pending.is_empty() {
            self.push(now, InterceptorEvent::ToServer(pending));
        }
        let rest = self.from_server.take_raw();
        if !rest.is_empty() {
            self.push(now, InterceptorEvent::ToClient(rest));
        }
    }

    /// Client commands that waited for a release go upstream now.
    fn resume_backlog(&mut self, now: Time) {
        let mut to_server = Vec::new();
        while !self.must_wait() && !self.closed {
            match self.backlog.pop_front() {
                None => break,
                Some(Pending::Line(line)) => self.client_command(now, line, &mut to_server),
                Some(Pending::Chunk(bytes)) => self.client_chunk(bytes, &mut to_server),
            }
        }
        self.flush_relay(now, &mut to_server);
        if self.client_gone && !self.must_wait() && self.backlog.is_empty() && !self.server_gone {
            self.push(now, InterceptorEvent::CloseServer);
            self.server_gone = true;
            self.maybe_close(now);
        }
    }

    fn start_release(&mut self, now: Time) {
        self.next_keepalive = None;
        let cfg = self.cfg.clone();
        let mut plan = VecDeque::new();
        for i in 0..cfg.upstream_resets {
            if i > 0 {
                plan.push_back(Step::Sleep(cfg.reset_interval.0));
            }
            plan.push_back(Step::Send(b"RSET\r\n".to_vec(), "reset"));
        }
        if !cfg.scan_delay.0.is_zero() {
            plan.push_back(Step::Scan(cfg.scan_delay.0));
        }
        if cfg.replay_envelope {
            if let Some(mail) = &self.mail_line {
                plan.push_back(Step::Send(mail.clone(), "replay"));
            }
            for rcpt in &self.accepted_rcpts {
                plan.push_back(Step::Send(rcpt.clone(), "replay"));
            }
        }
        if !cfg.hold_body || !cfg.data_reply.is_empty() {
            plan.push_back(Step::Data);
        }
        plan.push_back(Step::Body);
        self.note(
            now,
            format!("releasing the held message upstream ({} steps)", plan.len()),
        );
        self.plan = plan;
        self.run_plan(now);
    }

    fn run_plan(&mut self, now: Time) {
        while !self.plan_waiting && self.plan_wake.is_none() {
            let Some(step) = self.plan.pop_front() else {
                return;
            };
            match step {
                Step::Sleep(d) => self.plan_wake = Some(now + d),
                Step::Scan(d) => {
                    self.note(now, format!("scanning the message for {}", Dur(d)));
                    self.plan_wake = Some(now + d);
                }
                Step::Send(bytes, what) => {
                    self.send_own(now, bytes, what);
                    self.plan_waiting = true;
                }
                Step::Data => {
                    self.send_own(now, b"DATA\r\n".to_vec(), "data");
                    self.plan_waiting = true;
                }
                Step::Body => {
                    let mut body = std::mem::take(&mut self.held);
                    body.extend_from_slice(b".\r\n");
                    self.push(now, InterceptorEvent::ToServer(body));
                    self.upstream.push_back(Origin::Own("body"));
                    self.plan_waiting = true;
                }
            }
        }
    }

    /// Keepalives run while the message is held: being typed, or complete and not yet released.
    fn keepalive_active(&self) -> bool {
        !self.server_gone
            && (self.client_side == ClientSide::Holding
                || (self.held_complete && !self.release_running()))
    }

    /// Client input waits: a release runs, or (`lock_step`) a relayed command's reply is owed.
    fn must_wait(&self) -> bool {
        self.release_running()
            || (self.cfg.lock_step
                && self
                    .upstream
                    .iter()
                    .any(|o| !matches!(o, Origin::Own(_))))
    }

    fn release_running(&self) -> bool {
        self.plan_waiting || self.plan_wake.is_some() || !self.plan.is_empty()
    }

    fn send_own(&mut self, now: Time, bytes: Vec<u8>, what: &'static str) {
        if self.server_gone {
            return;
        }
        self.push(now, InterceptorEvent::ToServer(bytes));
        self.upstream.push_back(Origin::Own(what));
    }

    /// True if the `CRLF.CRLF` ending at the dot line starting at `start` crossed a segment boundary.
    fn terminator_split(&self, start: u64) -> bool {
        let first = start.saturating_sub(2);
        let end = start + 3;
        self.boundaries.iter().any(|&b| b > first && b < end)
    }

    fn flush_relay(&mut self, now: Time, relay: &mut Vec<u8>) {
        if !relay.is_empty() && !self.server_gone {
            self.push(now, InterceptorEvent::ToServer(std::mem::take(relay)));
            if self.cfg.lock_step {
                // A reply the server sent early is read now that one is owed.
                self.read_server(now);
            }
        }
        relay.clear();
    }

    fn maybe_close(&mut self, _now: Time) {
        if self.client_gone && self.server_gone {
            self.closed = true;
        }
    }

    fn note(&mut self, now: Time, text: String) {
        self.push(now, InterceptorEvent::Note(text));
    }

    fn push(&mut self, now: Time, event: InterceptorEvent) {
        self.outbox.push(now, event);
    }
}

fn is_dot(line: &Line) -> bool {
    line.bytes == b"." && line.ending == Ending::CrLf
}

/// PIX style: every character of the text except '2', '0' and space becomes '*'.
fn mask_banner(reply: &Reply) -> Reply {
    let lines = reply
        .lines
        .iter()
        .map(|l| {
            l.chars()
                .map(|c| if matches!(c, '2' | '0' | ' ') { c } else { '*' })
                .collect()
        })
        .collect();
    Reply {
        code: reply.code,
        lines,
    }
}
