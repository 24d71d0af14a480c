//! The only module that names a socket type: turmoil-net's simulated TCP for `sim`, tokio's
//! real TCP for live mode, and the clock that goes with each.

use std::cell::Cell;
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A simulated TCP stream (turmoil-net) on which every write leaves as its own segment, as on
/// a socket with `TCP_NODELAY`: a second write waits for the engine's next egress pass, so
/// split writes and a `.` written apart stay apart on the wire.
#[derive(Debug)]
pub struct SimStream {
    inner: turmoil_net::shim::tokio::net::TcpStream,
    /// The egress pass during which this stream last wrote.
    wrote_in_pass: Option<u64>,
}

/// A simulated listener (turmoil-net).
#[derive(Debug)]
pub struct SimListener(turmoil_net::shim::tokio::net::TcpListener);

thread_local! {
    /// Egress passes so far in the simulation on this thread.
    static PASSES: Cell<u64> = const { Cell::new(0) };
    /// Writers waiting for the next pass.
    static WAITING_WRITERS: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Called by the engine after each egress pass: wakes the writers waiting for it.
pub(crate) fn egress_passed() {
    PASSES.with(|p| p.set(p.get() + 1));
    for w in WAITING_WRITERS.with(|w| std::mem::take(&mut *w.borrow_mut())) {
        w.wake();
    }
}

/// Whether a writer waits for the next egress pass.
pub(crate) fn writers_waiting() -> bool {
    WAITING_WRITERS.with(|w| !w.borrow().is_empty())
}

impl SimStream {
    fn new(inner: turmoil_net::shim::tokio::net::TcpStream) -> Self {
        SimStream {
            inner,
            wrote_in_pass: None,
        }
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

impl SimListener {
    /// The next connection.
    pub async fn accept(&self) -> io::Result<(SimStream, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        Ok((SimStream::new(stream), peer))
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let pass = PASSES.with(Cell::get);
        if self.wrote_in_pass == Some(pass) {
            WAITING_WRITERS.with(|w| w.borrow_mut().push(cx.waker().clone()));
            return Poll::Pending;
        }
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote_in_pass = Some(pass);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
/// A real TCP stream (tokio).
pub type LiveStream = tokio::net::TcpStream;
/// A real listener (tokio).
pub type LiveListener = tokio::net::TcpListener;

static LIVE_START: OnceLock<tokio::time::Instant> = OnceLock::new();

thread_local! {
    /// The start of the simulation running on this thread (its clock is tokio's, paused).
    static SIM_START: Cell<Option<tokio::time::Instant>> = const { Cell::new(None) };
}

/// Marks this thread as running a simulation that started at `start` (virtual).
pub(crate) fn enter_simulation(start: tokio::time::Instant) {
    SIM_START.with(|s| s.set(Some(start)));
}

/// Ends [`enter_simulation`].
pub(crate) fn leave_simulation() {
    SIM_START.with(|s| s.set(None));
    PASSES.with(|p| p.set(0));
    WAITING_WRITERS.with(|w| w.borrow_mut().clear());
}

/// Time since the start: virtual simulation time inside a simulation, time since the process
/// first asked outside it.
pub fn now() -> Duration {
    match SIM_START.with(Cell::get) {
        Some(start) => start.elapsed(),
        None => LIVE_START.get_or_init(tokio::time::Instant::now).elapsed(),
    }
}

/// Sleeps until [`now`] reaches `at`.
pub async fn sleep_until(at: Duration) {
    let current = now();
    if at > current {
        tokio::time::sleep(at - current).await;
    }
}

/// Connects inside the simulation to `host:port`.
pub async fn sim_connect(host: &str, port: u16) -> io::Result<SimStream> {
    let stream = turmoil_net::shim::tokio::net::TcpStream::connect((host, port)).await?;
    Ok(SimStream::new(stream))
}

/// Binds a simulated listener on every address of the current host.
pub async fn sim_listen(port: u16) -> io::Result<SimListener> {
    let listener = turmoil_net::shim::tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    Ok(SimListener(listener))
}

/// Connects over real TCP.
pub async fn live_connect(addr: &str) -> io::Result<LiveStream> {
    tokio::net::TcpStream::connect(addr).await
}

/// Binds a real listener.
pub async fn live_listen(addr: &str) -> io::Result<LiveListener> {
    tokio::net::TcpListener::bind(addr).await
}
