//! A stream wrapper that writes every read, write, close and error into the transcript, with
//! the time it happened. This is where transcripts come from: the bytes an actor really
//! wrote and read, in the chunks it wrote and read them.

use crate::net;
use crate::proto::maillog::{LogRecord, Observer};
use crate::transcript::{EventKind, Layer, Transcript};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, recorded as connection `conn` from `me`'s point of view, with optional
/// transport faults applied to this side's writes (split, stall, drop).
#[derive(Debug)]
pub struct Recorded<S> {
    inner: S,
    transcript: Transcript,
    conn: u32,
    me: String,
    peer: String,
    closed: bool,
    faults: TransportFaults,
    /// Logs the peer's session as an smtpd would (a live proxy's `--format maillog`).
    observer: Option<std::sync::Mutex<Observer>>,
    /// What the bytes crossing here are: plain, inside TLS, or TLS records relayed unread.
    layer: Layer,
    /// Whether the writer may start TLS above this recorder (a third-party client).
    starttls: FollowTls,
}

/// Following a STARTTLS done above the recorder: after this side's `STARTTLS` and the peer's
/// 220, the bytes crossing are TLS records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FollowTls {
    /// TLS, if any, is below the recorder (our own drivers): the bytes stay readable.
    Off,
    /// Looking for this side's STARTTLS.
    Watching,
    /// STARTTLS sent: a 220 makes the rest ciphertext.
    Sent,
}

/// Transport faults on one side of one connection.
#[derive(Debug, Default)]
struct TransportFaults {
    /// Largest segment per write.
    split: Option<usize>,
    /// Cut the connection once this many bytes were written.
    drop_after: Option<u64>,
    /// Stall before a write containing a line with this prefix.
    stalls: Vec<(String, std::time::Duration)>,
    /// Cut the connection instead of writing a line with this prefix.
    drop_at: Vec<String>,
    sleeping: Option<Pin<Box<tokio::time::Sleep>>>,
    written: u64,
    broken: bool,
    /// Gather writes for this long and send them as one segment.
    coalesce: Option<std::time::Duration>,
    /// Gathered bytes not yet sent.
    pending: Vec<u8>,
    flush_at: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Recorded<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, transcript: Transcript, conn: u32, me: &str, peer: &str) -> Self {
        Recorded {
            inner,
            transcript,
            conn,
            me: me.to_string(),
            peer: peer.to_string(),
            closed: false,
            faults: TransportFaults::default(),
            observer: None,
            layer: Layer::Plain,
            starttls: FollowTls::Off,
        }
    }

    /// Also writes the log an smtpd named `server` would write about this peer (at address
    /// `client`): its commands from what it sent, their outcome from what went back.
    pub fn observed(mut self, client: &str, server: &str) -> Self {
        if !self.transcript.is_heard() {
            return self;
        }
        self.log(LogRecord::Connect {
            client: client.to_string(),
            server: server.to_string(),
        });
        self.observer = Some(std::sync::Mutex::new(Observer::default()));
        self
    }

    /// Feeds the observer, if any, and logs what it says.
    fn observe(&self, feed: impl FnOnce(&mut Observer) -> Vec<LogRecord>) {
        let Some(observer) = &self.observer else {
            return;
        };
        let records = feed(&mut observer.lock().expect("observer lock"));
        for record in records {
            self.log(record);
        }
    }

    /// Applies the transport faults among `events` to this side's writes.
    pub fn with_faults(mut self, events: &[crate::fault::FaultEvent]) -> Self {
        use crate::fault::FaultEvent;
        for event in events {
            match event {
                FaultEvent::Split { max_segment, .. } => {
                    self.faults.split = Some((*max_segment).max(1) as usize)
                }
                FaultEvent::Drop { after_bytes, .. } => self.faults.drop_after = Some(*after_bytes),
                FaultEvent::DropAtLine { line, .. } => self.faults.drop_at.push(line.clone()),
                FaultEvent::Coalesce { window, .. } => self.faults.coalesce = Some(window.0),
                FaultEvent::Stall { line, duration, .. } => {
                    self.faults.stalls.push((line.clone(), duration.0))
                }
                _ => {}
            }
        }
        self
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, to change what it is (start TLS under the recorder).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// This side's writer does its own TLS above the recorder (a third-party client library):
    /// after its `STARTTLS` and the peer's 220, what crosses is recorded as TLS records.
    pub fn following_starttls(mut self) -> Self {
        self.starttls = FollowTls::Watching;
        self
    }

    /// From now on, the bytes crossing here travel in `layer`.
    pub fn set_layer(&mut self, layer: Layer) {
        self.layer = layer;
    }

    /// What the bytes crossing here are.
    pub fn layer(&self) -> Layer {
        self.layer
    }

    /// The other side's name.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The connection number.
    pub fn conn(&self) -> u32 {
        self.conn
    }

    /// This side's name.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The transcript this stream records into.
    pub fn transcript_handle(&self) -> &Transcript {
        &self.transcript
    }

    /// Records a note from this side of the connection.
    pub fn note(&self, text: impl Into<String>) {
        self.transcript.record(
            net::now(),
            self.conn,
            &self.me,
            "",
            EventKind::Note(text.into()),
        );
    }

    /// Records what this side, a server, would write to its mail log about its peer.
    pub fn log(&self, record: crate::proto::maillog::LogRecord) {
        self.transcript.record(
            net::now(),
            self.conn,
            &self.me,
            &self.peer,
            EventKind::Log(record),
        );
    }

    fn record(&mut self, from_me: bool, kind: EventKind) {
        let tls_starts = self.follow_starttls(from_me, &kind);
        match (&kind, from_me) {
            // Ciphertext says nothing an smtpd would log.
            _ if self.layer == Layer::Opaque => {}
            (EventKind::Data(bytes), true) => self.observe(|o| o.reply_bytes(bytes)),
            (EventKind::Received(bytes), false) => self.observe(|o| o.client_bytes(bytes)),
            (EventKind::Close, true) => self.observe(|o| o.closed(false)),
            _ => {}
        }
        let (from, to) = if from_me {
            (&self.me, &self.peer)
        } else {
            (&self.peer, &self.me)
        };
        self.transcript
            .record_in(self.layer, net::now(), self.conn, from, to, kind);
        if tls_starts {
            self.layer = Layer::Opaque;
            self.note(
                "TLS started by the client itself: the rest of this connection is TLS records",
            );
        }
    }

    /// Whether the bytes crossing here are wanted: someone hears the transcript (the smtpd log
    /// is written into it too), or a client's own STARTTLS is being followed.
    fn needs_bytes(&self) -> bool {
        self.transcript.is_heard() || self.starttls != FollowTls::Off
    }

    /// True when this event is the peer's 220 to this side's STARTTLS.
    fn follow_starttls(&mut self, from_me: bool, kind: &EventKind) -> bool {
        let is_line = |bytes: &[u8], line: &str| {
            String::from_utf8_lossy(bytes)
                .lines()
                .any(|l| l.trim().eq_ignore_ascii_case(line))
        };
        match (self.starttls, kind, from_me) {
            (FollowTls::Watching, EventKind::Data(bytes), true) if is_line(bytes, "STARTTLS") => {
                self.starttls = FollowTls::Sent;
                false
            }
            (FollowTls::Sent, EventKind::Received(bytes), false) => {
                let ready = bytes.starts_with(b"220");
                self.starttls = if ready {
                    FollowTls::Off
                } else {
                    FollowTls::Watching
                };
                ready
            }
            _ => false,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.faults.broken {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        // Gathered writes go out when their window has passed (the reader's poll is the clock).
        if let Poll::Ready(Err(e)) = self.poll_coalesced(cx, false) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &result {
            Poll::Ready(Ok(())) if buf.filled().len() > before && !self.needs_bytes() => {}
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                let bytes = buf.filled()[before..].to_vec();
                self.record(false, EventKind::Received(bytes));
            }
            Poll::Ready(Ok(())) if buf.remaining() > 0 => self.observe(|o| o.closed(true)),
            Poll::Ready(Err(e)) => {
                self.observe(|o| o.closed(true));
                let why = format!("{} saw: {}", self.me, describe(e));
                self.transcript
                    .record(net::now(), self.conn, &self.me, "", EventKind::Reset(why));
            }
            _ => {}
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.faults.broken {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if let Some(sleep) = self.faults.sleeping.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.faults.sleeping = None;
        } else if let Some(i) = self
            .faults
            .stalls
            .iter()
            .position(|(prefix, _)| starts_a_line(buf, prefix.as_bytes()))
        {
            let (prefix, duration) = self.faults.stalls.remove(i);
            self.note(format!(
                "fault: stalling {} before {prefix:?}",
                crate::profile::Dur(duration)
            ));
            let mut sleep = Box::pin(tokio::time::sleep(duration));
            if sleep.as_mut().poll(cx).is_pending() {
                self.faults.sleeping = Some(sleep);
                return Poll::Pending;
            }
        }
        if self
            .faults
            .drop_at
            .iter()
            .any(|prefix| starts_a_line(buf, prefix.as_bytes()))
        {
            return Poll::Ready(Err(self.cut(cx)));
        }
        if self.faults.coalesce.is_some() {
            if self.faults.pending.is_empty() {
                let window = self.faults.coalesce.expect("checked");
                self.faults.flush_at = Some(Box::pin(tokio::time::sleep(window)));
            }
            self.faults.pending.extend_from_slice(buf);
            if let Poll::Ready(Err(e)) = self.poll_coalesced(cx, false) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        let mut len = buf.len();
        if let Some(max) = self.faults.split {
            len = len.min(max);
        }
        if let Some(limit) = self.faults.drop_after {
            len = len.min(limit.saturating_sub(self.faults.written) as usize);
            if len == 0 {
                return Poll::Ready(Err(self.cut(cx)));
            }
        }
        let result = Pin::new(&mut self.inner).poll_write(cx, &buf[..len]);
        match &result {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.faults.written += *n as u64;
                if self.needs_bytes() {
                    self.record(true, EventKind::Data(buf[..*n].to_vec()));
                }
                if self
                    .faults
                    .drop_after
                    .is_some_and(|limit| self.faults.written >= limit)
                {
                    let _ = self.cut(cx);
                }
            }
            Poll::Ready(Err(e)) => {
                let why = format!("{} write failed: {}", self.me, describe(e));
                self.transcript
                    .record(net::now(), self.conn, &self.me, "", EventKind::Reset(why));
            }
            _ => {}
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_coalesced(cx, false) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_coalesced(cx, true).is_pending() {
            return Poll::Pending;
        }
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        if matches!(result, Poll::Ready(_)) && !self.closed {
            self.closed = true;
            self.record(true, EventKind::Close);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> Recorded<S> {
    /// Sends gathered writes as one segment once their window has passed (or now, if `force`).
    fn poll_coalesced(&mut self, cx: &mut Context<'_>, force: bool) -> Poll<io::Result<()>> {
        if self.faults.pending.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if !force {
            if let Some(sleep) = self.faults.flush_at.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        while !self.faults.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.faults.pending) {
                Poll::Ready(Ok(n)) => {
                    let sent: Vec<u8> = self.faults.pending.drain(..n).collect();
                    self.faults.written += n as u64;
                    self.record(true, EventKind::Data(sent));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.faults.flush_at = None;
        Poll::Ready(Ok(()))
    }

    /// The injected drop: close this side now, fail every later read and write.
    fn cut(&mut self, cx: &mut Context<'_>) -> io::Error {
        if !self.faults.broken {
            self.faults.broken = true;
            self.note(format!(
                "fault: connection dropped after {} bytes written",
                self.faults.written
            ));
            let _ = Pin::new(&mut self.inner).poll_shutdown(cx);
            self.closed = true;
        }
        io::ErrorKind::ConnectionReset.into()
    }
}

/// True if `buf` has a line (at its start or after a LF) beginning with `prefix`.
fn starts_a_line(buf: &[u8], prefix: &[u8]) -> bool {
    buf.starts_with(prefix)
        || buf
            .windows(prefix.len() + 1)
            .any(|w| w[0] == b'\n' && &w[1..] == prefix)
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::BrokenPipe => "broken pipe".into(),
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}
