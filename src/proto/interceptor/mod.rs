//! The interceptor: a middlebox between client and server with two half-sessions. Toward
//! the client it frames commands (and may answer some itself); toward the server it relays
//! them, adds its own (keepalives, resets, a replayed envelope) and swallows their replies.
//!
//! Its knobs live in [`config`], its rules on commands and replies in [`policy`], what it does
//! to message content in [`content`], the release of a held message in [`release`], STARTTLS
//! in [`starttls`].
//!
//! Inputs: `handle_client_input`, `handle_server_input`, `handle_client_eof`,
//! `handle_server_eof`, `handle_timeout`. Outputs: `poll_event`, `poll_timeout`.

#[macro_use]
mod config;
mod content;
mod policy;
mod release;
mod starttls;

pub use config::{InterceptorConfig, Release, StartTls};

use super::command::{Command, Verb};
use super::line::{Ending, Line, LineBuffer, LineLimits, Overflow};
use super::outbox::Outbox;
use super::reply::{Reply, ReplyParser};
use super::Time;
use std::collections::VecDeque;
use std::sync::Arc;

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
                                self.push(
                                    now,
                                    InterceptorEvent::ToClient(std::mem::take(&mut relay)),
                                );
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
            self.note(
                now,
                "server closed: the client connection stays open".into(),
            );
        }
        self.resume_backlog(now);
    }

    /// A client command or a held message's release meets the closed server connection
    /// (`server_gone_empty_reply`): an empty line while it still takes writes, else both
    /// connections closed. With `many_writes` (a held message, written in several writes) the
    /// second write fails at once.
    fn write_to_closed_server(&mut self, now: Time, what: &str, many_writes: bool) {
        if self.dead_writes > 0 && !many_writes {
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
                        return self.write_to_closed_server(now, "the held message", true);
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
            return self.write_to_closed_server(now, verb.name(), false);
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
                                "DATA relayed: the message is held until the client's '.'".into(),
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
