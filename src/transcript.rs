//! The event log every actor writes to: events as data, kept for the run's result or handed
//! to a sink as they happen (live mode). How they look is `format`'s business.

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// What `from`, a server, would write to its mail log (`--format maillog`).
    Log(crate::proto::maillog::LogRecord),
    /// A TLS handshake, its failure, or what came with STARTTLS.
    Tls(TlsEvent),
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

/// What happened with TLS on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsEvent {
    /// `from` finished a TLS handshake with `to`: version, cipher, the peer's certificate.
    Established(String),
    /// `from`'s TLS handshake with `to` failed, and why.
    Failed(String),
    /// `from`, a server, found bytes the client sent in plaintext after STARTTLS and before
    /// the handshake; `executed`: it read them as commands inside TLS (CVE-2011-0411).
    Injected {
        /// The pending bytes.
        bytes: Vec<u8>,
        /// Read as protected commands (true) or thrown away.
        executed: bool,
    },
}

/// How the bytes of a data event travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layer {
    /// In the clear.
    #[default]
    Plain,
    /// Inside TLS: the bytes shown are the plaintext the writer put in (or the reader got
    /// out of) the TLS session.
    Tls,
    /// TLS records relayed by a middlebox that cannot read them: the bytes are ciphertext.
    Opaque,
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
    /// For data and reads: in the clear, inside TLS, or TLS records relayed unread.
    pub layer: Layer,
}

/// Sees every event as it is recorded (e.g. to write a session down as a scenario).
pub type Tap = Box<dyn FnMut(&Event) + Send>;

#[derive(Default)]
struct Inner {
    events: Vec<Event>,
    /// Where events go instead of being kept (live mode: printed, memory stays flat).
    sink: Option<Tap>,
    next_conn: u32,
    /// Connection numbers by their (sorted) pair of endpoint addresses.
    conns: std::collections::BTreeMap<(String, String), u32>,
    endpoints: std::collections::BTreeMap<u32, (String, String)>,
    tap: Option<Tap>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("events", &self.events.len())
            .field("streaming", &self.sink.is_some())
            .finish()
    }
}

/// A shared, append-only event log. Cheap to clone; every actor holds one.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    inner: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    log: Mutex<Inner>,
    /// Nobody will see events (a live log printed to /dev/null, no tap): recording is free.
    unheard: AtomicBool,
}

impl Transcript {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that hands each event to `sink` as it happens and keeps nothing (live mode).
    pub fn streaming(sink: Tap) -> Self {
        let t = Self::default();
        t.inner.log.lock().expect("transcript lock").sink = Some(sink);
        t
    }

    /// A live log nobody sees (its output goes nowhere), until a tap is set.
    pub fn unheard() -> Self {
        let t = Self::streaming(Box::new(|_| {}));
        t.inner.unheard.store(true, Ordering::Relaxed);
        t
    }

    /// True when events recorded now would be seen by someone: a caller may skip the work of
    /// making them otherwise.
    pub fn is_heard(&self) -> bool {
        !self.inner.unheard.load(Ordering::Relaxed)
    }

    /// True for a log that keeps its events (the simulation's), false for a live one.
    pub fn keeps_events(&self) -> bool {
        self.inner
            .log
            .lock()
            .expect("transcript lock")
            .sink
            .is_none()
    }

    /// A fresh connection number.
    pub fn new_conn(&self) -> u32 {
        let mut inner = self.inner.log.lock().expect("transcript lock");
        inner.next_conn += 1;
        inner.next_conn
    }

    /// Hands every event recorded from now on to `tap` as well.
    pub fn set_tap(&self, tap: Tap) {
        self.inner.log.lock().expect("transcript lock").tap = Some(tap);
        self.inner.unheard.store(false, Ordering::Relaxed);
    }

    /// The number of the connection from `initiator` to `acceptor` (the same number whichever
    /// end asks first; each end passes the connecting side first). For logs that keep events:
    /// the pairs are kept too.
    pub fn conn_for(&self, initiator: impl ToString, acceptor: impl ToString) -> u32 {
        let (a, b) = (initiator.to_string(), acceptor.to_string());
        let key = if a <= b {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        };
        let mut inner = self.inner.log.lock().expect("transcript lock");
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
            .log
            .lock()
            .expect("transcript lock")
            .endpoints
            .clone()
    }

    /// Appends an event.
    pub fn record(&self, at: Duration, conn: u32, from: &str, to: &str, kind: EventKind) {
        self.record_in(Layer::Plain, at, conn, from, to, kind);
    }

    /// Appends an event whose bytes travelled in `layer`.
    pub fn record_in(
        &self,
        layer: Layer,
        at: Duration,
        conn: u32,
        from: &str,
        to: &str,
        kind: EventKind,
    ) {
        if !self.is_heard() {
            return;
        }
        let event = Event {
            at,
            conn,
            from: from.to_string(),
            to: to.to_string(),
            kind,
            layer,
        };
        let mut inner = self.inner.log.lock().expect("transcript lock");
        if let Some(tap) = inner.tap.as_mut() {
            tap(&event);
        }
        match inner.sink.as_mut() {
            Some(sink) => sink(&event),
            None => inner.events.push(event),
        }
    }

    /// A copy of every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.inner
            .log
            .lock()
            .expect("transcript lock")
            .events
            .clone()
    }
}
