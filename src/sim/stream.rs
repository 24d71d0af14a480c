//! The simulated socket as actors see it: turmoil-net's TCP stream, with every write leaving
//! as its own segment (as on a socket with `TCP_NODELAY`, where each `write` is pushed at
//! once).
//!
//! turmoil-net cuts segments at egress passes, and the engine makes at most one pass per
//! millisecond (its retransmission clock), so two writes handed to the kernel within one
//! millisecond would leave as one segment. A write that finds an earlier write still waiting
//! for the pass is queued here instead, and the engine hands one queued write per stream to the
//! kernel before each pass (`feed_queued_writes`). The writer is not blocked: it goes on
//! reading, and split writes stay split on the wire, one millisecond apart.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};
use turmoil_net::HostId;

/// Bytes a stream may queue before its writer waits.
const QUEUE_LIMIT: usize = 256 * 1024;

#[derive(Debug)]
struct Shared {
    stream: TcpStream,
    host: HostId,
    /// Writes not yet handed to the kernel, oldest first.
    queued: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    /// The egress pass during which a write was last handed to the kernel.
    fed_in_pass: Option<u64>,
    /// The writer, waiting for room in the queue or for the queue to drain.
    writer: Option<Waker>,
}

thread_local! {
    /// Egress passes so far in the simulation on this thread.
    static PASSES: Cell<u64> = const { Cell::new(0) };
    /// The host whose task is running (set by the engine around every poll).
    static HOST: Cell<Option<HostId>> = const { Cell::new(None) };
    /// Streams with queued writes.
    static BACKLOG: RefCell<Vec<Weak<Mutex<Shared>>>> = const { RefCell::new(Vec::new()) };
}

/// A simulated TCP stream.
#[derive(Debug)]
pub struct SimStream {
    shared: Arc<Mutex<Shared>>,
}

/// A simulated listener.
#[derive(Debug)]
pub struct SimListener(TcpListener);

/// Connects to `host:port` from the current host.
pub async fn connect(host: &str, port: u16) -> io::Result<SimStream> {
    let stream = TcpStream::connect((host, port)).await?;
    Ok(SimStream::new(stream))
}

/// Listens on `port` on every address of the current host.
pub async fn listen(port: u16) -> io::Result<SimListener> {
    Ok(SimListener(TcpListener::bind(("0.0.0.0", port)).await?))
}

impl SimListener {
    /// The next connection.
    pub async fn accept(&self) -> io::Result<(SimStream, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        Ok((SimStream::new(stream), peer))
    }
}

impl SimStream {
    fn new(stream: TcpStream) -> Self {
        SimStream {
            shared: Arc::new(Mutex::new(Shared {
                stream,
                host: HOST
                    .with(Cell::get)
                    .expect("sockets are opened from a simulated host"),
                queued: VecDeque::new(),
                queued_bytes: 0,
                fed_in_pass: None,
                writer: None,
            })),
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared().stream.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared().stream.peer_addr()
    }
}

/// The stream's state (one thread runs a simulation, so the lock is never contended; it is
/// there because third-party clients such as lettre want `Send + Sync` streams).
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hands the oldest queued write of each stream to its kernel; the engine calls this just
/// before an egress pass. True if any stream still has writes queued afterwards.
pub(super) fn feed_queued_writes() -> bool {
    let pass = PASSES.with(Cell::get);
    let streams: Vec<Arc<Mutex<Shared>>> = BACKLOG.with(|b| {
        let mut backlog = b.borrow_mut();
        backlog.retain(|w| w.strong_count() > 0);
        backlog.iter().filter_map(Weak::upgrade).collect()
    });
    let mut more = false;
    for shared in streams {
        let mut s = lock(&shared);
        if s.fed_in_pass == Some(pass) {
            more |= !s.queued.is_empty();
            continue;
        }
        turmoil_net::set_current(s.host);
        s.feed(pass);
        more |= !s.queued.is_empty();
    }
    BACKLOG.with(|b| {
        b.borrow_mut()
            .retain(|w| w.upgrade().is_some_and(|s| !lock(&s).queued.is_empty()))
    });
    more
}

/// Names the host whose task runs from now on (`None`: none); returns the one named before.
pub(super) fn enter_host(id: Option<HostId>) -> Option<HostId> {
    HOST.with(|h| h.replace(id))
}

/// Counts an egress pass; the engine calls this after each.
pub(super) fn egress_passed() {
    PASSES.with(|p| p.set(p.get() + 1));
}

/// Forgets the backlog (end of a run).
pub(super) fn reset() {
    PASSES.with(|p| p.set(0));
    BACKLOG.with(|b| b.borrow_mut().clear());
}

impl Shared {
    /// Hands the oldest queued write to the kernel (as much of it as fits).
    fn feed(&mut self, pass: u64) {
        let Some(front) = self.queued.front_mut() else {
            return;
        };
        match self.stream.try_write(front) {
            Ok(n) => {
                self.fed_in_pass = Some(pass);
                self.queued_bytes -= n;
                if n == front.len() {
                    self.queued.pop_front();
                } else {
                    front.drain(..n);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                // The connection is gone: what was queued is lost with it.
                self.queued.clear();
                self.queued_bytes = 0;
            }
        }
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.shared().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let pass = PASSES.with(Cell::get);
        let mut s = self.shared();
        if s.queued.is_empty() && s.fed_in_pass != Some(pass) {
            let written = Pin::new(&mut s.stream).poll_write(cx, buf);
            if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
                s.fed_in_pass = Some(pass);
            }
            return written;
        }
        if s.queued_bytes >= QUEUE_LIMIT {
            s.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if s.queued.is_empty() {
            BACKLOG.with(|b| b.borrow_mut().push(Arc::downgrade(&self.shared)));
        }
        s.queued.push_back(buf.to_vec());
        s.queued_bytes += buf.len();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.shared();
        if !s.queued.is_empty() {
            s.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Pin::new(&mut s.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The FIN goes after everything written before it.
        let mut s = self.shared();
        if !s.queued.is_empty() {
            s.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Pin::new(&mut s.stream).poll_shutdown(cx)
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        // What the writer was told is written goes to the kernel, as a close would send it.
        let mut s = self.shared();
        while let Some(front) = s.queued.pop_front() {
            if s.stream.try_write(&front).is_err() {
                break;
            }
        }
    }
}

impl crate::actor::plumbing::Endpoints for SimStream {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        SimStream::local_addr(self)
    }
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        SimStream::peer_addr(self)
    }
}
