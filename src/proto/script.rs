//! A scripted client: replays bytes recorded from a real client (`smtpsim serve --record`),
//! each step after the same number of replies and the same pause as in the recording. It
//! reads the script like a server would to know which messages it carries, and judges each
//! one by the reply to its final '.'.

use super::client::{ClientEvent, Decision, Message, Stage, Status};
use super::command::{Command, Verb};
use super::data::{DataEvent, DataReceiver};
use super::line::{Line, LineBuffer, LineLimits, Overflow};
use super::outbox::Outbox;
use super::reply::{Reply, ReplyParser};
use super::Time;
use std::collections::VecDeque;

/// How long the script waits for the server after its last step before it hangs up.
pub const LINGER: Time = Time::from_secs(10);
/// How long the script waits for a reply it needs before it gives up on the server.
pub const SILENCE_LIMIT: Time = Time::from_secs(300);

/// One recorded write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStep {
    /// Replies the client had received before it wrote this.
    pub after_replies: u32,
    /// Pause after that reply (or after connecting) before writing.
    pub delay: Time,
    /// The bytes written.
    pub bytes: Vec<u8>,
}

/// What a reply the script waits for answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Other,
    /// STARTTLS: a 220 means a TLS handshake before the next step.
    StartTls,
    Mail(usize),
    Rcpt(usize, String),
    Data(usize),
    Dot(usize),
}

/// The messages a script carries, and which reply answers what: read from the bytes the
/// way a server would (MAIL, RCPT, DATA, content up to '.'), with the same framing and
/// unstuffing as the server session.
#[derive(Debug)]
struct ScriptReader {
    lines: LineBuffer,
    /// The content of the message in DATA, if one is.
    data: Option<DataReceiver>,
    messages: Vec<Message>,
    expects: VecDeque<Expect>,
}

impl Default for ScriptReader {
    fn default() -> Self {
        ScriptReader {
            // Whatever a recorded client wrote: bare LF ends a line, nothing is cut away.
            lines: LineBuffer::new(LineLimits {
                max_len: 1 << 20,
                bare_lf_ends_line: true,
                overflow: Overflow::Split,
            }),
            data: None,
            messages: Vec::new(),
            expects: VecDeque::new(),
        }
    }
}

impl ScriptReader {
    fn feed(&mut self, bytes: &[u8]) {
        self.lines.push(bytes);
        while let Some(line) = self.lines.next_line() {
            self.line(&line);
        }
    }

    fn line(&mut self, line: &Line) {
        if let Some(data) = self.data.as_mut() {
            if let DataEvent::End(_) = data.handle_line(line) {
                let current = self.messages.len() - 1;
                let data = self.data.take().expect("in DATA");
                self.messages[current].body = data.into_body();
                self.expects.push_back(Expect::Dot(current));
            }
            return;
        }
        let Some(command) = Command::parse(&line.bytes) else {
            self.expects.push_back(Expect::Other);
            return;
        };
        let expect = match command.verb {
            Verb::Mail => {
                let from = command.path().map(|p| p.address).unwrap_or_default();
                let id = self.messages.len();
                self.messages.push(Message {
                    id,
                    from,
                    to: Vec::new(),
                    body: Vec::new(),
                    at: Time::ZERO,
                });
                Expect::Mail(id)
            }
            Verb::Rcpt if !self.messages.is_empty() => {
                let to = command.path().map(|p| p.address).unwrap_or_default();
                let id = self.messages.len() - 1;
                self.messages[id].to.push(to.clone());
                Expect::Rcpt(id, to)
            }
            Verb::Data if !self.messages.is_empty() => {
                self.data = Some(DataReceiver::new(None));
                Expect::Data(self.messages.len() - 1)
            }
            Verb::StartTls => Expect::StartTls,
            _ => Expect::Other,
        };
        self.expects.push_back(expect);
    }

    /// The messages, the one still in DATA with the content so far.
    fn into_messages(mut self) -> Vec<Message> {
        if let (Some(data), Some(last)) = (self.data.take(), self.messages.last_mut()) {
            last.body = data.into_body();
        }
        self.messages
    }
}

/// The messages a script sends (for the oracle's ledger).
pub fn script_messages(steps: &[ScriptStep]) -> Vec<Message> {
    let mut reader = ScriptReader::default();
    for step in steps {
        reader.feed(&step.bytes);
    }
    reader.into_messages()
}

/// What the replies said about one message so far.
#[derive(Debug, Clone, Default)]
struct Progress {
    accepted: Vec<String>,
    refused: Vec<(String, Reply)>,
    decided: bool,
}

/// One scripted connection.
#[derive(Debug)]
pub struct ScriptSession {
    steps: VecDeque<ScriptStep>,
    reader: ScriptReader,
    parser: ReplyParser,
    /// When each reply arrived (index: replies received so far - 1).
    reply_times: Vec<Time>,
    connected_at: Time,
    outbox: Outbox<ClientEvent>,
    wake_at: Option<Time>,
    /// Per message, what the replies said so far.
    progress: Vec<Progress>,
    closed: bool,
    /// A TLS handshake was asked for: no step goes out until it is reported.
    handshake: bool,
}

impl ScriptSession {
    /// A session for a connection established at `now`.
    pub fn new(steps: Vec<ScriptStep>, now: Time) -> Self {
        let count = script_messages(&steps).len();
        let mut session = ScriptSession {
            steps: steps.into(),
            reader: ScriptReader::default(),
            parser: ReplyParser::new(),
            reply_times: Vec::new(),
            connected_at: now,
            outbox: Outbox::new(now),
            wake_at: None,
            progress: vec![Progress::default(); count],
            closed: false,
            handshake: false,
        };
        session.advance(now);
        session
    }

    fn handle_reply(&mut self, now: Time, reply: Reply) {
        self.reply_times.push(now);
        match self.reader.expects.pop_front() {
            Some(Expect::Mail(id)) if !reply.is_positive() => {
                self.decide(now, id, Decision::by_reply(Stage::Mail, reply))
            }
            Some(Expect::Rcpt(id, to)) => {
                if reply.is_positive() {
                    self.progress[id].accepted.push(to);
                } else {
                    self.progress[id].refused.push((to, reply));
                }
            }
            Some(Expect::Data(id)) if reply.code != 354 => {
                let stage = if self.progress[id].accepted.is_empty() {
                    Stage::Rcpt
                } else {
                    Stage::DataInit
                };
                self.decide(now, id, Decision::by_reply(stage, reply))
            }
            Some(Expect::Dot(id)) => {
                self.decide(now, id, Decision::by_reply(Stage::DataDone, reply))
            }
            // The recorded client went on inside TLS: so does the replay.
            Some(Expect::StartTls) if reply.code == 220 => {
                self.handshake = true;
                self.outbox.push(now, ClientEvent::StartTls);
            }
            _ => {}
        }
    }

    /// Sends every step whose time has come; arms the timer for the next one.
    fn advance(&mut self, now: Time) {
        if self.handshake {
            return;
        }
        while let Some(step) = self.steps.front() {
            let received = self.reply_times.len() as u32;
            if step.after_replies > received {
                self.wake_at = Some(now + SILENCE_LIMIT);
                return;
            }
            let base = match step.after_replies {
                0 => self.connected_at,
                n => self.reply_times[n as usize - 1],
            };
            let due = base + step.delay;
            if due > now {
                self.wake_at = Some(due);
                return;
            }
            let step = self.steps.pop_front().expect("checked");
            self.reader.feed(&step.bytes);
            self.outbox.push(now, ClientEvent::Send(step.bytes));
        }
        if !self.closed {
            self.wake_at = Some(now + LINGER);
        }
    }

    fn decide(&mut self, now: Time, id: usize, decision: Decision) {
        let Some(progress) = self.progress.get_mut(id) else {
            return;
        };
        if progress.decided {
            return;
        }
        progress.decided = true;
        let outcome = decision.outcome(id, progress.refused.clone());
        self.outbox.push(now, ClientEvent::Outcome(outcome));
    }

    fn close(&mut self, now: Time) {
        if !self.closed {
            self.closed = true;
            self.wake_at = None;
            self.outbox.push(now, ClientEvent::Close);
        }
    }
}

impl super::client::ClientProtocol for ScriptSession {
    fn handle_input(&mut self, now: Time, bytes: &[u8]) {
        self.parser.push(bytes);
        while let Some(parsed) = self.parser.next_reply() {
            match parsed {
                Ok(reply) => self.handle_reply(now, reply),
                Err(e) => self
                    .outbox
                    .push(now, ClientEvent::Note(format!("unparseable reply: {e}"))),
            }
        }
        self.advance(now);
    }

    fn handle_eof(&mut self, now: Time, why: &str) {
        if self.closed {
            return;
        }
        // Messages whose '.' went out without a reply sit in RFC 1047's gap.
        let pending: Vec<Expect> = self.reader.expects.drain(..).collect();
        for expect in pending {
            let (id, stage, gap) = match expect {
                Expect::Dot(id) => (id, Stage::DataDone, true),
                Expect::Data(id) | Expect::Mail(id) | Expect::Rcpt(id, _) => {
                    (id, Stage::Mail, false)
                }
                Expect::Other | Expect::StartTls => continue,
            };
            let reason = format!("connection {why}");
            self.decide(
                now,
                id,
                Decision::without_reply(Status::Deferred, stage, reason, gap),
            );
        }
        for id in 0..self.progress.len() {
            let reason = "the script never finished it".to_string();
            self.decide(
                now,
                id,
                Decision::without_reply(Status::NotAttempted, Stage::Mail, reason, false),
            );
        }
        self.close(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        if self.wake_at.is_some_and(|t| now >= t) {
            self.wake_at = None;
            let stalled = self
                .steps
                .front()
                .is_some_and(|s| s.after_replies as usize > self.reply_times.len());
            if self.steps.is_empty() || stalled {
                let why = if stalled {
                    "server silent; the script hangs up"
                } else {
                    "script done; hanging up"
                };
                self.outbox.push(now, ClientEvent::Note(why.into()));
                self.handle_eof(now, "closed by the script");
                return;
            }
            self.advance(now);
        }
    }

    fn poll_event(&mut self, now: Time) -> Option<ClientEvent> {
        self.outbox.poll(now).map(|(_, e)| e)
    }

    fn handle_tls(&mut self, now: Time, result: Result<(), String>) {
        if !std::mem::take(&mut self.handshake) {
            return;
        }
        match result {
            Ok(()) => self.advance(now),
            Err(why) => self.handle_eof(now, &format!("lost: TLS handshake failed ({why})")),
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        if let Some(at) = self.outbox.next_deadline() {
            return Some(at);
        }
        if self.closed {
            None
        } else {
            self.wake_at
        }
    }
}
