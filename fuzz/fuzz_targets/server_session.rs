//! The server session fed arbitrary bytes, reads and time, under every server preset with
//! small limits. Besides "no panic", a model that frames the same bytes checks the invariants
//! an operator relies on:
//! - every complete command line gets exactly one reply (a multi-line reply is one group);
//!   DATA content lines get none, the end-of-data line gets one;
//! - after QUIT's reply, a 421 or a Close, nothing more: no reply, no delivery, no event;
//! - the error limits hold: the line that brings the error count to `hard_error_limit` is
//!   followed by the 421 and the close, never earlier, never later; from `soft_error_limit`
//!   errors on, replies wait `error_sleep`;
//! - a delivery comes only at an end of data and is followed by its positive reply;
//! - STARTTLS's 220 is followed by the handshake request and nothing else; after the
//!   handshake, exactly the bytes pipelined behind STARTTLS are reported and thrown away (the
//!   CVE-2011-0411 fix), and a failed handshake closes the session.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtpsim::profile::ServerConfig;
use smtpsim::proto::command::{Command, Verb};
use smtpsim::proto::data::{DataEvent, DataReceiver};
use smtpsim::proto::line::{Ending, LineBuffer, LineLimits, Overflow};
use smtpsim::proto::server::{ServerEvent, ServerSession};
use smtpsim::proto::{Reply, Time};
use std::collections::VecDeque;
use std::sync::Arc;

const PRESETS: [&str; 4] = ["postfix", "postfix-relaxed", "exchange", "rfc821"];

#[derive(Arbitrary, Debug)]
struct Knobs {
    preset: u8,
    hard_error_limit: u8,
    soft_error_limit: u8,
    junk_command_limit: u8,
    line_length_limit: u16,
    recipient_limit: u8,
    message_size_limit: u16,
    bare_lf_ends_line: bool,
    reject_long_lines: bool,
    hang_up_on_non_smtp: bool,
    streaming: bool,
    per_record_deadline: bool,
    tls_fails: bool,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// One read of raw bytes.
    Bytes(Vec<u8>),
    /// One read of a line plus CRLF (helps the fuzzer reach deep states).
    Line(Vec<u8>),
    /// A canned command, to get past HELO/MAIL/RCPT/DATA quickly.
    Canned(u8),
    /// Time passes (tenths of a second); the driver calls `handle_timeout` when due.
    Wait(u16),
    /// The client closes.
    Eof,
}

const CANNED: [&[u8]; 10] = [
    b"EHLO c.example\r\n",
    b"HELO c.example\r\n",
    b"MAIL FROM:<a@example.org>\r\n",
    b"RCPT TO:<b@example.org>\r\n",
    b"DATA\r\n",
    b".\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"STARTTLS\r\n",
    // The CVE-2011-0411 shape: plaintext pipelined behind STARTTLS.
    b"STARTTLS\r\nRSET\r\nMAIL FROM:<x@example.org>\r\n",
];

#[derive(Arbitrary, Debug)]
struct Input {
    knobs: Knobs,
    ops: Vec<Op>,
}

/// What the model expects the session to be doing, framing the same bytes with the same rules.
struct Model {
    cfg: Arc<ServerConfig>,
    lines: LineBuffer,
    data: Option<DataReceiver>,
    errors: u32,
    junk: u32,
    closed: bool,
    /// The session asked for a TLS handshake; no line is read until it is reported.
    handshake: bool,
}

fn limits(cfg: &ServerConfig, overflow: Overflow) -> LineLimits {
    LineLimits {
        max_len: cfg.line_length_limit,
        bare_lf_ends_line: cfg.bare_lf_ends_line,
        overflow,
    }
}

impl Model {
    /// Checks the events one read caused against the lines it completed.
    fn read(&mut self, now: Time, bytes: &[u8], events: Vec<(Time, ServerEvent)>) {
        let mut events: VecDeque<(Time, ServerEvent)> = events
            .into_iter()
            .filter(|(_, e)| {
                !matches!(
                    e,
                    ServerEvent::Note(_) | ServerEvent::Log(_) | ServerEvent::Content(_)
                )
            })
            .collect();
        if self.closed {
            assert!(events.is_empty(), "events after close: {events:?}");
            return;
        }
        self.lines.push(bytes);
        while !self.closed && !self.handshake {
            let Some(line) = self.lines.next_line() else {
                break;
            };
            if let Some(data) = &mut self.data {
                if let DataEvent::End(_) = data.handle_line(&line) {
                    self.data = None;
                    self.lines.set_limits(limits(&self.cfg, Overflow::Truncate));
                    let delivered = matches!(events.front(), Some((_, ServerEvent::Deliver(_))));
                    if delivered {
                        events.pop_front();
                    }
                    let discarded = matches!(events.front(), Some((_, ServerEvent::Discard)));
                    if discarded {
                        events.pop_front();
                    }
                    let reply = self.reply(now, &mut events, "end of data");
                    assert_eq!(delivered, reply.is_positive(), "delivery vs {reply}");
                    if delivered {
                        self.errors = 0;
                        self.junk = 0;
                    } else {
                        self.errors += 1;
                    }
                }
                continue;
            }
            let what = String::from_utf8_lossy(&line.bytes).into_owned();
            let reply = self.reply(now, &mut events, &what);
            let command = Command::parse(&line.bytes);
            if reply.code >= 400 {
                self.errors += 1;
            }
            let is_junk = command.as_ref().is_some_and(|c| {
                matches!(
                    c.verb,
                    Verb::Helo | Verb::Ehlo | Verb::Noop | Verb::Vrfy | Verb::Etrn | Verb::Rset
                )
            }) && !(line.ending == Ending::Cut && self.cfg.reject_long_lines);
            if is_junk && self.cfg.junk_command_limit > 0 {
                if self.junk > self.cfg.junk_command_limit {
                    self.errors += 1;
                }
                self.junk += 1;
            }
            if matches!(events.front(), Some((_, ServerEvent::StartTls))) {
                assert_eq!(reply.code, 220, "handshake after {reply}");
                events.pop_front();
                self.handshake = true;
            }
            if reply.code == 354 {
                self.data = Some(DataReceiver::new(Some(0)));
                self.lines.set_limits(limits(&self.cfg, Overflow::Split));
            }
            let closes = matches!(events.front(), Some((_, ServerEvent::Close)));
            let quit = command.as_ref().is_some_and(|c| c.verb == Verb::Quit) && reply.code == 221;
            let hard = self.cfg.hard_error_limit;
            if hard > 0 && self.errors >= hard && !quit && !closes {
                let too_many = self.reply(now, &mut events, "the error limit");
                assert_eq!(too_many.code, 421, "error limit reached: {too_many}");
                assert!(matches!(events.front(), Some((_, ServerEvent::Close))));
            }
            if matches!(events.front(), Some((_, ServerEvent::Close))) {
                events.pop_front();
                self.closed = true;
                // QUIT, a non-SMTP hang-up or the error limit: nothing else closes after a line.
                assert!(
                    quit || reply.code == 221 || (hard > 0 && self.errors >= hard),
                    "closed after {what:?} / {reply}"
                );
            } else if reply.code == 421 {
                panic!("421 without a close after {what:?}");
            }
        }
        assert!(events.is_empty(), "events no line explains: {events:?}");
    }

    /// The handshake was reported: the bytes left behind STARTTLS are thrown away (and said
    /// so), or a failed handshake closes the session.
    fn tls_done(&mut self, failed: bool, events: Vec<(Time, ServerEvent)>) {
        self.handshake = false;
        let mut events = events
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| !matches!(e, ServerEvent::Note(_) | ServerEvent::Log(_)));
        if failed {
            assert_eq!(events.next(), Some(ServerEvent::Close));
            self.closed = true;
        } else {
            let pending = self.lines.take_raw(usize::MAX);
            if !pending.is_empty() {
                assert_eq!(
                    events.next(),
                    Some(ServerEvent::Injected {
                        bytes: pending,
                        executed: false
                    })
                );
            }
        }
        assert_eq!(events.next(), None);
    }

    /// The next event must be a reply, waiting `error_sleep` once the soft limit is reached.
    fn reply(&self, now: Time, events: &mut VecDeque<(Time, ServerEvent)>, what: &str) -> Reply {
        match events.pop_front() {
            Some((at, ServerEvent::Reply(reply))) => {
                let soft = self.cfg.soft_error_limit;
                if soft > 0 && self.errors >= soft {
                    assert!(
                        at >= now + self.cfg.error_sleep.0,
                        "no error sleep for {what:?}"
                    );
                }
                reply
            }
            other => panic!("no reply for {what:?}: {other:?}"),
        }
    }

    /// A timeout or the client's close: a 421 and a close, or just a close.
    fn end(&mut self, events: Vec<(Time, ServerEvent)>) {
        let mut events = events.into_iter().map(|(_, e)| e).filter(|e| {
            !matches!(
                e,
                ServerEvent::Note(_) | ServerEvent::Log(_) | ServerEvent::Discard
            )
        });
        if self.closed {
            assert_eq!(events.next(), None);
            return;
        }
        match events.next() {
            Some(ServerEvent::Reply(r)) => {
                assert_eq!(r.code, 421, "{r}");
                assert_eq!(events.next(), Some(ServerEvent::Close));
            }
            Some(ServerEvent::Close) => {}
            None => return,
            other => panic!("unexpected {other:?}"),
        }
        self.closed = true;
        assert_eq!(events.next(), None);
    }
}

/// Every event, advancing the clock to delayed ones but never to the idle timeout.
fn settle(server: &mut ServerSession, now: &mut Time, idle: Time) -> Vec<(Time, ServerEvent)> {
    let mut out = Vec::new();
    loop {
        while let Some(event) = server.poll_event(*now) {
            out.push((*now, event));
        }
        match server.poll_timeout() {
            Some(at) if at > *now && at < *now + idle => *now = at,
            _ => return out,
        }
    }
}

fuzz_target!(|input: Input| {
    let k = &input.knobs;
    let mut cfg = ServerConfig::preset(PRESETS[usize::from(k.preset) % PRESETS.len()]).unwrap();
    cfg.hard_error_limit = u32::from(k.hard_error_limit % 8);
    cfg.soft_error_limit = u32::from(k.soft_error_limit % 8);
    cfg.junk_command_limit = u32::from(k.junk_command_limit % 8);
    cfg.line_length_limit = usize::from(k.line_length_limit % 600).max(1);
    cfg.recipient_limit = u32::from(k.recipient_limit % 4);
    cfg.message_size_limit = u64::from(k.message_size_limit);
    cfg.bare_lf_ends_line = k.bare_lf_ends_line;
    cfg.reject_long_lines = k.reject_long_lines;
    cfg.hang_up_on_non_smtp = k.hang_up_on_non_smtp;
    cfg.per_record_deadline = k.per_record_deadline;
    cfg.local_domains = vec!["*".into()];
    let cfg = Arc::new(cfg);
    let idle = cfg.timeout.0;

    let mut now = Time::ZERO;
    let mut server = ServerSession::new(cfg.clone(), "192.0.2.1", now, 1);
    server.set_streaming(k.streaming);
    let banner = settle(&mut server, &mut now, idle);
    let first_reply = banner.iter().find_map(|(_, e)| match e {
        ServerEvent::Reply(r) => Some(r.code),
        _ => None,
    });
    assert_eq!(first_reply, Some(220));
    let mut model = Model {
        lines: LineBuffer::new(limits(&cfg, Overflow::Truncate)),
        cfg,
        data: None,
        errors: 0,
        junk: 0,
        closed: false,
        handshake: false,
    };
    for op in input.ops.iter().take(200) {
        let bytes: Vec<u8> = match op {
            Op::Bytes(b) => b.clone(),
            Op::Line(b) => [&b[..], b"\r\n"].concat(),
            Op::Canned(i) => CANNED[usize::from(*i) % CANNED.len()].to_vec(),
            Op::Wait(tenths) => {
                let until = now + Time::from_millis(u64::from(*tenths) * 100);
                while let Some(at) = server.poll_timeout().filter(|at| *at <= until) {
                    now = now.max(at);
                    server.handle_timeout(now);
                    let events = settle(&mut server, &mut now, idle);
                    model.end(events);
                    if server.poll_timeout() == Some(at) {
                        break;
                    }
                }
                now = now.max(until);
                continue;
            }
            Op::Eof => {
                server.handle_eof(now);
                let events = settle(&mut server, &mut now, idle);
                model.end(events);
                assert!(server.is_closed());
                continue;
            }
        };
        let sent_at = now;
        server.handle_input(now, &bytes);
        let events = settle(&mut server, &mut now, idle);
        model.read(sent_at, &bytes, events);
        if model.handshake {
            let result = if k.tls_fails {
                Err("fuzz: handshake failed".to_string())
            } else {
                Ok(())
            };
            server.handle_tls(now, result);
            let events = settle(&mut server, &mut now, idle);
            model.tls_done(k.tls_fails, events);
        }
        assert_eq!(server.is_closed(), model.closed);
    }
});
