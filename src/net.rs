//! Real sockets (tokio's TCP, for live mode) and the clock every actor reads: virtual time
//! inside a simulation (see `sim::engine`), time since the process first asked outside it.
//! The simulated sockets are `sim::stream`.

use std::cell::Cell;
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

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

/// Whether a simulation is running on this thread.
pub(crate) fn in_simulation() -> bool {
    SIM_START.with(Cell::get).is_some()
}

/// Ends [`enter_simulation`].
pub(crate) fn leave_simulation() {
    SIM_START.with(|s| s.set(None));
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

/// Connects over real TCP.
pub async fn live_connect(addr: &str) -> io::Result<LiveStream> {
    tokio::net::TcpStream::connect(addr).await
}

/// Binds a real listener.
pub async fn live_listen(addr: &str) -> io::Result<LiveListener> {
    tokio::net::TcpListener::bind(addr).await
}
