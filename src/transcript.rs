//! The event log every actor writes to, and its text rendering (the snapshot unit): one row
//! per wire line or event, virtual time, connection, direction, the exact bytes escaped.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `from` opened a connection to `to`.
    Connect,
    /// A connection attempt failed.
    ConnectFailed(String),
    /// One write of bytes from `from` to `to`.
    Data(Vec<u8>),
    /// One read of bytes by `to` (kept for machine formats; not shown as text rows).
    Received(Vec<u8>),
    /// `from` closed its sending side.
    Close,
    /// `from` saw the connection reset or fail.
    Reset(String),
    /// A decision or observation of `from`.
    Note(String),
    /// The server took responsibility for a message.
    Delivered {
        /// Queue id from the 250 reply.
        queue_id: String,
        /// Envelope sender.
        mail_from: String,
        /// Envelope recipients.
        rcpt_to: Vec<String>,
        /// Content size in bytes.
        size: usize,
    },
}

/// One transcript row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Time since the start of the run.
    pub at: Duration,
    /// Connection number (0: not tied to a connection).
    pub conn: u32,
    /// The acting side.
    pub from: String,
    /// The other side (empty for notes).
    pub to: String,
    /// What happened.
    pub kind: EventKind,
}

/// Sees every event as it is recorded (e.g. to write a session down as a scenario).
pub type Tap = Box<dyn FnMut(&Event) + Send>;

#[derive(Default)]
struct Inner {
    events: Vec<Event>,
    next_conn: u32,
    live_print: bool,
    /// Print JSON Lines instead of text rows.
    live_json: bool,
    /// Connection numbers by their (sorted) pair of endpoint addresses.
    conns: std::collections::BTreeMap<(String, String), u32>,
    endpoints: std::collections::BTreeMap<u32, (String, String)>,
    tap: Option<Tap>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("events", &self.events.len())
            .field("live_print", &self.live_print)
            .finish()
    }
}

/// A shared, append-only event log. Cheap to clone; every actor holds one.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    inner: Arc<Mutex<Inner>>,
}

impl Transcript {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that prints each row to stdout as it happens and keeps nothing (live mode).
    pub fn printing() -> Self {
        let t = Self::default();
        t.inner.lock().expect("transcript lock").live_print = true;
        t
    }

    /// As [`printing`](Self::printing), one JSON object per event (the `--format json` schema).
    pub fn printing_json() -> Self {
        let t = Self::printing();
        t.inner.lock().expect("transcript lock").live_json = true;
        t
    }

    /// A fresh connection number.
    pub fn new_conn(&self) -> u32 {
        let mut inner = self.inner.lock().expect("transcript lock");
        inner.next_conn += 1;
        inner.next_conn
    }

    /// Hands every event recorded from now on to `tap` as well.
    pub fn set_tap(&self, tap: Tap) {
        self.inner.lock().expect("transcript lock").tap = Some(tap);
    }

    /// The number of the connection from `initiator` to `acceptor` (the same number whichever
    /// end asks first; each end passes the connecting side first).
    pub fn conn_for(&self, initiator: impl ToString, acceptor: impl ToString) -> u32 {
        let (a, b) = (initiator.to_string(), acceptor.to_string());
        let key = if a <= b {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        };
        let mut inner = self.inner.lock().expect("transcript lock");
        if let Some(n) = inner.conns.get(&key) {
            return *n;
        }
        inner.next_conn += 1;
        let n = inner.next_conn;
        inner.conns.insert(key, n);
        inner.endpoints.insert(n, (a, b));
        n
    }

    /// Every connection's (initiator, acceptor) addresses, by connection number.
    pub fn endpoints(&self) -> std::collections::BTreeMap<u32, (String, String)> {
        self.inner
            .lock()
            .expect("transcript lock")
            .endpoints
            .clone()
    }

    /// Appends an event.
    pub fn record(&self, at: Duration, conn: u32, from: &str, to: &str, kind: EventKind) {
        let event = Event {
            at,
            conn,
            from: from.to_string(),
            to: to.to_string(),
            kind,
        };
        let mut inner = self.inner.lock().expect("transcript lock");
        if let Some(tap) = inner.tap.as_mut() {
            tap(&event);
        }
        if inner.live_print {
            // Live, only our side records: what the peer sent shows as what we received.
            let mut text = String::new();
            if inner.live_json {
                text = crate::format::json::event_line(&event) + "\n";
            } else {
                render_event_with(&mut text, &event, true);
            }
            print!("{text}");
            // A live log is printed, not kept: memory stays flat however long it runs.
            return;
        }
        inner.events.push(event);
    }

    /// A copy of every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.inner.lock().expect("transcript lock").events.clone()
    }
}

/// Escapes a wire line for display: printable ASCII as is, `\r`, `\n`, `\t`, `\\` and
/// `\xNN` for everything else.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Splits one write into display lines: CRLF-terminated lines show their content only; any
/// other ending is shown escaped, and a piece with no terminator is marked `[partial]`.
pub fn wire_rows(bytes: &[u8]) -> Vec<String> {
    let mut rows = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (line, next) = rest.split_at(i + 1);
                if line.ends_with(b"\r\n") {
                    rows.push(escape(&line[..line.len() - 2]));
                } else {
                    rows.push(escape(line));
                }
                rest = next;
            }
            None => {
                rows.push(format!("{} [partial]", escape(rest)));
                rest = &[];
            }
        }
    }
    rows
}

/// Formats a time as seconds with millisecond precision, right-aligned.
pub fn format_time(at: Duration) -> String {
    format!("{:>4}.{:03}s", at.as_secs(), at.subsec_millis())
}

/// Renders one event as text rows (appended to `out`). Reads are not shown: in a simulation
/// every byte already has a row from the side that wrote it.
pub fn render_event(out: &mut String, e: &Event) {
    render_event_with(out, e, false);
}

/// As [`render_event`]; `show_reads` also renders reads, for a log with only one side's view.
pub fn render_event_with(out: &mut String, e: &Event, show_reads: bool) {
    let time = format_time(e.at);
    let conn = if e.conn == 0 {
        "  ".to_string()
    } else {
        format!("c{}", e.conn)
    };
    let arrow = |out: &mut String, text: &str| {
        let _ = writeln!(
            out,
            "{time} {conn:<3} {:>11} -> {:<11}  {text}",
            e.from, e.to
        );
    };
    let mark = |out: &mut String, text: &str| {
        let _ = writeln!(out, "{time} {conn:<3} {:>11} ** {:<11}  {text}", e.from, "");
    };
    match &e.kind {
        EventKind::Connect => arrow(out, "[connect]"),
        EventKind::ConnectFailed(why) => arrow(out, &format!("[connect failed: {why}]")),
        EventKind::Data(bytes) => {
            for row in wire_rows(bytes) {
                arrow(out, &row);
            }
        }
        EventKind::Received(bytes) if show_reads => {
            for row in wire_rows(bytes) {
                arrow(out, &row);
            }
        }
        EventKind::Received(_) => {}
        EventKind::Close => arrow(out, "[close]"),
        EventKind::Reset(why) => mark(out, &format!("[{why}]")),
        EventKind::Note(text) => mark(out, text),
        EventKind::Delivered {
            queue_id,
            mail_from,
            rcpt_to,
            size,
        } => {
            let rcpts: Vec<String> = rcpt_to.iter().map(|r| format!("<{r}>")).collect();
            mark(
                out,
                &format!(
                    "delivered {queue_id}: <{mail_from}> -> {} ({size} bytes)",
                    rcpts.join(", ")
                ),
            );
        }
    }
}

/// Renders every event as text rows.
pub fn render_events(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        render_event(&mut out, e);
    }
    out
}
