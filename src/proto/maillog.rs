//! What a Postfix 3.7 smtpd logs about one session, as data: the server session keeps an
//! [`SmtpdLog`] and queues its [`LogRecord`]s with its other events; `format::maillog` turns
//! them into syslog lines. The rules (which command counts, when pipelining is "improper",
//! which refusals are logged, what `after` names) follow `smtpd.c` and `smtpd_check.c` of
//! Postfix 3.7.11 and were checked against its log for the parity corpus.

/// Postfix's command table, in the order the disconnect summary lists it; commands not in
/// it are counted as `unknown`. `true`: the command ends a pipelined group (`FLAG_LAST`), so
/// input already waiting after it is improper pipelining.
const COMMANDS: [(&str, bool); 15] = [
    ("HELO", true),
    ("EHLO", true),
    ("XCLIENT", false),
    ("XFORWARD", false),
    ("STARTTLS", false),
    ("AUTH", false),
    ("MAIL", false),
    ("RCPT", false),
    ("DATA", true),
    ("BDAT", false),
    ("RSET", false),
    ("NOOP", true),
    ("VRFY", true),
    ("ETRN", false),
    ("QUIT", false),
];
const UNKNOWN: usize = COMMANDS.len();

/// `after` while nothing but the banner happened.
pub const AFTER_CONNECT: &str = "CONNECT";
/// `after` while message content is being received (logged as `after DATA (N bytes)`).
pub const AFTER_DATA: &str = "DATA content";
/// `after` once a BDAT chunk was taken, until the next command (logged as `after BDAT (N
/// bytes)`).
pub const AFTER_BDAT: &str = "BDAT content";
/// `after` once the final '.' was read.
pub const AFTER_END_OF_MESSAGE: &str = "END-OF-MESSAGE";
/// `after` an unrecognised command.
pub const AFTER_UNKNOWN: &str = "UNKNOWN";

/// Why a session ended without QUIT.
pub const LOST_CONNECTION: &str = "lost connection";
/// The idle timeout cut the session.
pub const TIMEOUT: &str = "timeout";
/// The hard error limit cut the session.
pub const TOO_MANY_ERRORS: &str = "too many errors";

/// One thing smtpd logs. The client's `name[address]` is the renderer's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRecord {
    /// `connect from CLIENT`.
    Connect {
        /// The client's address.
        client: String,
        /// The server's host name (the syslog host field is its first label).
        server: String,
    },
    /// A command line as read: what `smtpd -v` logs as `< CLIENT: LINE`.
    Command(String),
    /// A reply line as sent: what `smtpd -v` logs as `> CLIENT: LINE`.
    Reply(String),
    /// `warning: CLIENT: request longer than LIMIT: HEAD...` (an over-long command line).
    RequestTooLong {
        /// The line length limit.
        limit: usize,
        /// The first 30 characters, non-printables as `?`.
        head: String,
    },
    /// `improper command pipelining after COMMAND from CLIENT: PENDING`.
    ImproperPipelining {
        /// The command just read.
        after: &'static str,
        /// Up to 100 bytes already waiting, escaped as Postfix does (`\r`, `\n`, `\ooo`).
        pending: String,
    },
    /// `warning: non-SMTP command from CLIENT: LINE`.
    NonSmtp(String),
    /// `QUEUEID: client=CLIENT`: the queue file opened at the first accepted recipient.
    QueueOpened(String),
    /// `QUEUEID|NOQUEUE: reject: STAGE from CLIENT: REPLY; from=<> to=<> proto= helo=<>`.
    Reject {
        /// The open queue file, if any.
        queue_id: Option<String>,
        /// The command refused (`MAIL`, `RCPT`, `VRFY`).
        stage: &'static str,
        /// The reply sent, on one line.
        reply: String,
        /// The sender, once MAIL gave one.
        from: Option<String>,
        /// The recipient asked for.
        to: Option<String>,
        /// `SMTP` or `ESMTP`.
        protocol: &'static str,
        /// The HELO/EHLO name, if any.
        helo: Option<String>,
    },
    /// `warning: reject: ETRN DOMAIN... from CLIENT` (no fast flush service).
    EtrnRefused(String),
    /// `warning: Illegal address syntax from CLIENT in COMMAND command: ARGUMENT`: the
    /// address argument of MAIL, RCPT or VRFY could not be read (answered 501).
    IllegalAddress {
        /// `MAIL`, `RCPT` or `VRFY`.
        command: &'static str,
        /// The argument as sent, non-printables as `?`.
        argument: String,
    },
    /// `warning: unknown DSN NOTIFY command value "VALUE" in "LIST"` (no client named).
    UnknownNotify {
        /// The first value not known.
        value: String,
        /// The whole NOTIFY list.
        list: String,
    },
    /// `warning: QUEUEID|NOQUEUE: ...` about a BDAT command.
    BdatWarning {
        /// The open queue file, if any.
        queue_id: Option<String>,
        /// What was wrong.
        warning: BdatWarning,
    },
    /// cleanup's `QUEUEID: message-id=...`, logged when the message's header section ends
    /// (whether or not the message is then queued).
    MessageId {
        /// The message's queue id.
        queue_id: String,
        /// When the queue file was opened (a Message-Id Postfix makes carries it).
        opened: super::Time,
        /// The Message-ID header's value, if the message had one.
        message_id: Option<String>,
    },
    /// A message queued: the qmgr and delivery lines.
    Queued {
        /// Its queue id.
        queue_id: String,
        /// When the queue file was opened (the delivery's `delay=` counts from it).
        opened: super::Time,
        /// Envelope sender.
        from: String,
        /// Content size as Postfix counts it (each line end one byte), without the headers
        /// Postfix itself adds.
        size: u64,
        /// Envelope recipients.
        to: Vec<String>,
    },
    /// `REASON after COMMAND from CLIENT` (`after DATA (N bytes)` inside content).
    Ended {
        /// [`LOST_CONNECTION`], [`TIMEOUT`] or [`TOO_MANY_ERRORS`].
        reason: &'static str,
        /// The last command, or one of the `AFTER_*` states.
        after: &'static str,
        /// Content bytes received when it ended inside DATA.
        bytes: Option<u64>,
    },
    /// `disconnect from CLIENT ehlo=1 mail=1/2 ... commands=N/M`.
    Disconnect(String),
}

/// What smtpd warns about a BDAT command (`bdat_cmd` in smtpd.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BdatWarning {
    /// `malformed BDAT command syntax from CLIENT: LINE` (the line's first 100 characters,
    /// non-printables as `?`); answered 521 and a hang-up.
    Malformed(String),
    /// `null BDAT request from CLIENT`: `BDAT 0` without LAST.
    Null,
    /// `BDAT request from CLIENT exceeds message size limit`.
    TooBig,
}

impl BdatWarning {
    /// The warning's text for a client named `client`.
    pub fn text(&self, client: &str) -> String {
        match self {
            BdatWarning::Malformed(line) => {
                format!("malformed BDAT command syntax from {client}: {line}")
            }
            BdatWarning::Null => format!("null BDAT request from {client}"),
            BdatWarning::TooBig => {
                format!("BDAT request from {client} exceeds message size limit")
            }
        }
    }
}

/// Per-session bookkeeping of what smtpd logs: where the session is (`after`), the
/// per-command counts, the protocol, whether pipelining was flagged, and what the message's
/// headers say. The session owns the rest (queue ids, envelopes).
#[derive(Debug, Clone)]
pub struct SmtpdLog {
    after: &'static str,
    esmtp: bool,
    /// (succeeded, total) per [`COMMANDS`] entry, then unknown.
    counts: [(u32, u32); UNKNOWN + 1],
    pipelining_flagged: bool,
    /// A DATA answered 354: it counts as done only once its message is queued.
    data_pending: Option<Counted>,
    /// A BDAT read: it counts as done once its chunk is taken (the last: once queued).
    chunk_pending: Option<Counted>,
    headers: HeaderScan,
    /// BDAT content: the start of a line whose end has not come yet.
    partial: Vec<u8>,
    /// Postfix's `act_size` for BDAT content: each line read counts its length without its
    /// line end, plus 2.
    act_size: u64,
    ended: bool,
}

impl Default for SmtpdLog {
    fn default() -> Self {
        SmtpdLog {
            after: AFTER_CONNECT,
            esmtp: false,
            counts: [(0, 0); UNKNOWN + 1],
            pipelining_flagged: false,
            data_pending: None,
            chunk_pending: None,
            headers: HeaderScan::default(),
            partial: Vec::new(),
            act_size: 0,
            ended: false,
        }
    }
}

/// A command as the log counts it: its table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted(usize);

impl SmtpdLog {
    /// A session just accepted.
    pub fn new() -> Self {
        Self::default()
    }

    /// `SMTP` until an EHLO succeeded, then `ESMTP` (until a HELO).
    pub fn protocol(&self) -> &'static str {
        if self.esmtp {
            "ESMTP"
        } else {
            "SMTP"
        }
    }

    /// What `after` names now.
    pub fn after(&self) -> &'static str {
        self.after
    }

    /// A command line named `verb` was read; `pending` is the input already waiting behind
    /// it. Returns its table entry, and the pipelining record if this is the first time the
    /// client sent ahead where it must wait (before EHLO, or after a group-ending command).
    pub fn command(&mut self, verb: &str, pending: &[u8]) -> (Counted, Option<LogRecord>) {
        let index = COMMANDS
            .iter()
            .position(|(name, _)| name.eq_ignore_ascii_case(verb))
            .unwrap_or(UNKNOWN);
        self.counts[index].1 += 1;
        let Some((name, ends_group)) = COMMANDS.get(index) else {
            self.after = AFTER_UNKNOWN;
            return (Counted(index), None);
        };
        self.after = name;
        let improper = (!self.esmtp || *ends_group) && !self.pipelining_flagged;
        if !improper || pending.is_empty() {
            return (Counted(index), None);
        }
        self.pipelining_flagged = true;
        let record = LogRecord::ImproperPipelining {
            after: name,
            pending: escape(&pending[..pending.len().min(100)]),
        };
        (Counted(index), Some(record))
    }

    /// The command counted as `counted` succeeded (`ok`) or was an error. A HELO or EHLO
    /// that succeeded sets the protocol; a DATA that succeeded waits for its message.
    pub fn result(&mut self, counted: Counted, ok: bool) {
        if !ok {
            return;
        }
        match COMMANDS.get(counted.0).map(|(name, _)| *name) {
            Some("HELO") => self.esmtp = false,
            Some("EHLO") => self.esmtp = true,
            Some("DATA") => {
                self.data_pending = Some(counted);
                return;
            }
            Some("BDAT") => {
                self.chunk_pending = Some(counted);
                return;
            }
            _ => {}
        }
        self.counts[counted.0].0 += 1;
    }

    /// The message after DATA (or `BDAT n LAST`) was queued (`true`) or refused: only now
    /// does the command count.
    pub fn message_done(&mut self, queued: bool) {
        if let (Some(data), true) = (self.data_pending.take(), queued) {
            self.counts[data.0].0 += 1;
        }
        self.chunk_done(queued);
    }

    /// A BDAT chunk was read and taken (`true`) or refused: only now does its BDAT count.
    pub fn chunk_done(&mut self, taken: bool) {
        if let (Some(bdat), true) = (self.chunk_pending.take(), taken) {
            self.counts[bdat.0].0 += 1;
        }
    }

    /// A BDAT chunk is taken (`first`: the message's first): content follows.
    pub fn chunk_started(&mut self, first: bool) {
        self.after = AFTER_BDAT;
        if first {
            self.headers = HeaderScan::default();
            self.partial.clear();
            self.act_size = 0;
        }
    }

    /// The BDAT message's size as Postfix counts it (`act_size`: every line's length plus 2,
    /// whatever its line end), what `BDAT n LAST` is answered with (`Ok: N bytes queued`).
    pub fn chunk_size(&self) -> u64 {
        self.act_size
    }

    /// Bytes of BDAT content received as Postfix's `lost connection after BDAT (N bytes)`
    /// counts them: lines read, the line begun, and `unread` bytes of a fragment not yet
    /// read out.
    pub fn chunk_bytes(&self, unread: usize) -> u64 {
        self.act_size + self.partial.len() as u64 + unread as u64
    }

    /// Bytes of BDAT chunks as received, read as lines the way `bdat_cmd` does (a line ends
    /// at LF, a CR before it dropped; a line longer than 2048 bytes goes in pieces). As for
    /// [`content_line`](Self::content_line): `Some` when the header section ended.
    pub fn chunk_content(&mut self, bytes: &[u8]) -> Option<Option<String>> {
        const LINE_LIMIT: usize = 2048;
        let mut ended = None;
        for &b in bytes {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.act_size += line.len() as u64 + 2;
                ended = ended.or(self.headers.line(&line, true));
            } else {
                self.partial.push(b);
                if self.partial.len() >= LINE_LIMIT {
                    let piece = std::mem::take(&mut self.partial);
                    self.act_size += piece.len() as u64 + 2;
                    ended = ended.or(self.headers.line(&piece, false));
                }
            }
        }
        ended
    }

    /// DATA was accepted: content follows.
    pub fn content_started(&mut self) {
        self.after = AFTER_DATA;
        self.headers = HeaderScan::default();
    }

    /// One content line as received (without its ending; `whole`: false for the first parts
    /// of a line cut at the length limit). When it ends the header section: `Some` with the
    /// Message-ID header's value, if there was one.
    pub fn content_line(&mut self, line: &[u8], whole: bool) -> Option<Option<String>> {
        self.headers.line(line, whole)
    }

    /// The final '.' was read. Returns the Message-ID if the header section ends only now
    /// (as for [`content_line`](Self::content_line)), and the size as Postfix counts it,
    /// given the content size with CRLF line ends.
    pub fn content_ended(&mut self, crlf_size: u64) -> (Option<Option<String>>, u64) {
        self.after = AFTER_END_OF_MESSAGE;
        // BDAT: a last line without its end is a line all the same, and Postfix ends it
        // with a line end of one byte that `crlf_size` does not have.
        let partial = std::mem::take(&mut self.partial);
        let early = if partial.is_empty() {
            None
        } else {
            self.act_size += partial.len() as u64 + 2;
            let ended = self.headers.line(&partial, false);
            self.headers.lines = self.headers.lines.saturating_sub(1);
            ended
        };
        let mut scan = std::mem::take(&mut self.headers);
        let ended_now = early.or_else(|| (!scan.done).then(|| scan.end()));
        (ended_now, crlf_size.saturating_sub(scan.lines))
    }

    /// The session ends (`reason`: why, if not by QUIT or a hang-up of the server's own).
    /// Returns what smtpd logs then, once; nothing a second time. `bytes`: content received
    /// if it ended inside DATA or after a BDAT chunk was taken.
    pub fn end(&mut self, reason: Option<&'static str>, bytes: u64) -> Vec<LogRecord> {
        if std::mem::replace(&mut self.ended, true) {
            return Vec::new();
        }
        let mut records = Vec::new();
        // A client that leaves right after its message was queued is not worth a line.
        let quiet = self.after == AFTER_END_OF_MESSAGE && reason == Some(LOST_CONNECTION);
        if let (Some(reason), false) = (reason, quiet) {
            let content = match self.after {
                AFTER_DATA => Some("DATA"),
                AFTER_BDAT => Some("BDAT"),
                _ => None,
            };
            records.push(LogRecord::Ended {
                reason,
                after: content.unwrap_or(self.after),
                bytes: content.map(|_| bytes),
            });
        }
        records.push(LogRecord::Disconnect(self.summary()));
        records
    }

    /// The session died with its process (an injected crash): nothing more is logged.
    pub fn crashed(&mut self) {
        self.ended = true;
    }

    /// ` helo=1 mail=1/2 ... commands=N[/M]`, as smtpd's `smtpd_format_cmd_stats`.
    fn summary(&self) -> String {
        let mut out = String::new();
        let (mut ok, mut total) = (0, 0);
        for (i, (good, all)) in self.counts.iter().enumerate() {
            if *all == 0 {
                continue;
            }
            let name = COMMANDS.get(i).map_or("unknown", |(name, _)| name);
            out.push_str(&format!(" {}={good}", name.to_ascii_lowercase()));
            if good != all {
                out.push_str(&format!("/{all}"));
            }
            ok += good;
            total += all;
        }
        out.push_str(&format!(" commands={ok}"));
        if ok != total || total == 0 {
            out.push_str(&format!("/{total}"));
        }
        out
    }
}

/// Reads a message's header section for its Message-ID (folded lines included) and counts
/// the content lines.
#[derive(Debug, Clone, Default)]
struct HeaderScan {
    done: bool,
    /// The header being read (name and value so far) while it may continue.
    current: Option<String>,
    message_id: Option<String>,
    /// Whole lines (each ended by CRLF in the content, by one byte in Postfix's count).
    lines: u64,
}

impl HeaderScan {
    /// Reads a line; `Some` (the Message-ID, if any) when it ended the header section.
    fn line(&mut self, line: &[u8], whole: bool) -> Option<Option<String>> {
        self.lines += u64::from(whole);
        if self.done {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        if text.starts_with([' ', '\t']) {
            if let Some(current) = &mut self.current {
                current.push_str(&text);
            }
            return None;
        }
        self.finish_header();
        let is_header = text.split_once(':').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic())
        });
        if is_header {
            self.current = Some(text.into_owned());
            return None;
        }
        Some(self.end())
    }

    /// The header section is over: the Message-ID found, if any.
    fn end(&mut self) -> Option<String> {
        self.finish_header();
        self.done = true;
        self.message_id.clone()
    }

    fn finish_header(&mut self) {
        let Some(header) = self.current.take() else {
            return;
        };
        let (name, value) = header.split_once(':').expect("headers have a colon");
        if name.eq_ignore_ascii_case("Message-ID") && self.message_id.is_none() {
            self.message_id = Some(value.trim().to_string());
        }
    }
}

/// Postfix's `escape()`: printable ASCII as is (a backslash doubled), C escapes for the
/// usual control characters, `\ooo` for the rest.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x0b => out.push_str("\\v"),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// Postfix's `printable()` for log text: printable ASCII and UTF-8 as is, anything else `?`.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c == char::REPLACEMENT_CHARACTER || (c.is_ascii() && !(' '..='~').contains(&c)) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// What waits for a reply on an observed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    Banner,
    Command(Counted, Verb),
    EndOfData,
}

/// The commands an observer treats specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Data,
    Bdat,
    Quit,
    Other,
}

/// The log an smtpd would write about a connection it is not itself: commands read from the
/// client's bytes, their outcome from the replies that went back (2xx and 3xx succeed), as a
/// live proxy sees its clients. Only what the wire shows: the dialogue, improper pipelining,
/// the command summary and why the session ended; no queue ids and no refusals by rule.
#[derive(Debug)]
pub struct Observer {
    log: SmtpdLog,
    lines: super::line::LineBuffer,
    replies: super::reply::ReplyParser,
    awaiting: std::collections::VecDeque<Awaited>,
    /// A DATA waits for its reply: the lines after it are not read until it comes.
    data_pending: bool,
    content: Option<super::data::DataReceiver>,
    /// Bytes of a BDAT chunk still to come: data, not command lines.
    chunk_left: u64,
    quit_answered: bool,
}

impl Default for Observer {
    fn default() -> Self {
        Observer {
            log: SmtpdLog::new(),
            lines: super::line::LineBuffer::new(super::line::LineLimits {
                max_len: 2048,
                bare_lf_ends_line: false,
                overflow: super::line::Overflow::Split,
            }),
            replies: super::reply::ReplyParser::new(),
            awaiting: std::collections::VecDeque::from([Awaited::Banner]),
            data_pending: false,
            content: None,
            chunk_left: 0,
            quit_answered: false,
        }
    }
}

impl Observer {
    /// Bytes the client sent.
    pub fn client_bytes(&mut self, bytes: &[u8]) -> Vec<LogRecord> {
        self.lines.push(bytes);
        self.read_lines()
    }

    fn read_lines(&mut self) -> Vec<LogRecord> {
        let mut records = Vec::new();
        while !self.data_pending {
            if self.chunk_left > 0 {
                let max = usize::try_from(self.chunk_left).unwrap_or(usize::MAX);
                let chunk = self.lines.take_raw(max);
                if chunk.is_empty() {
                    break;
                }
                self.chunk_left -= chunk.len() as u64;
                continue;
            }
            let Some(line) = self.lines.next_line() else {
                break;
            };
            if let Some(content) = &mut self.content {
                let event = content.handle_line(&line);
                if let super::data::DataEvent::End(_) = event {
                    let size = content.size();
                    self.content = None;
                    self.log.content_ended(size);
                    self.awaiting.push_back(Awaited::EndOfData);
                }
                continue;
            }
            records.push(LogRecord::Command(
                String::from_utf8_lossy(&line.bytes).into_owned(),
            ));
            let Some(command) = super::command::Command::parse(&line.bytes) else {
                continue;
            };
            let pending = self.lines.pending().to_vec();
            let (counted, improper) = self.log.command(command.verb.name(), &pending);
            records.extend(improper);
            let verb = match command.verb {
                super::command::Verb::Data => Verb::Data,
                super::command::Verb::Bdat => Verb::Bdat,
                super::command::Verb::Quit => Verb::Quit,
                _ => Verb::Other,
            };
            if let Some((size, _)) = command.bdat() {
                self.chunk_left = size;
            }
            self.awaiting.push_back(Awaited::Command(counted, verb));
            self.data_pending = verb == Verb::Data;
        }
        records
    }

    /// Bytes that went back to the client.
    pub fn reply_bytes(&mut self, bytes: &[u8]) -> Vec<LogRecord> {
        self.replies.push(bytes);
        let mut records = Vec::new();
        while let Some(Ok(reply)) = self.replies.next_reply() {
            for line in reply.wire_lines() {
                records.push(LogRecord::Reply(line));
            }
            let ok = matches!(reply.class(), 2 | 3);
            match self.awaiting.pop_front() {
                Some(Awaited::Command(counted, verb)) => {
                    self.log.result(counted, ok);
                    if verb == Verb::Bdat {
                        self.log.chunk_done(ok);
                    }
                    self.quit_answered |= verb == Verb::Quit;
                    if verb == Verb::Data {
                        self.data_pending = false;
                        if reply.code == 354 {
                            self.log.content_started();
                            self.content = Some(super::data::DataReceiver::new(Some(0)));
                        }
                        records.extend(self.read_lines());
                    }
                }
                Some(Awaited::EndOfData) => self.log.message_done(reply.is_positive()),
                Some(Awaited::Banner) | None => {}
            }
        }
        records
    }

    /// The connection ended (`by_client`: the client closed it or it broke).
    pub fn closed(&mut self, by_client: bool) -> Vec<LogRecord> {
        let reason = (by_client && !self.quit_answered).then_some(LOST_CONNECTION);
        let bytes = self.content.as_ref().map_or(0, |c| c.size());
        self.log.end(reason, bytes)
    }
}
