//! The only module that names a network stack: turmoil's simulated TCP for `sim`, tokio's
//! real TCP for live mode, and the clock that goes with each.

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

/// A simulated TCP stream (turmoil).
pub type SimStream = turmoil::net::TcpStream;
/// A simulated listener (turmoil).
pub type SimListener = turmoil::net::TcpListener;
/// A real TCP stream (tokio).
pub type LiveStream = tokio::net::TcpStream;
/// A real listener (tokio).
pub type LiveListener = tokio::net::TcpListener;

static LIVE_START: OnceLock<tokio::time::Instant> = OnceLock::new();

/// Time since the start: virtual simulation time inside turmoil, time since the process
/// first asked outside it.
pub fn now() -> Duration {
    turmoil::sim_elapsed()
        .unwrap_or_else(|| LIVE_START.get_or_init(tokio::time::Instant::now).elapsed())
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
    turmoil::net::TcpStream::connect((host, port)).await
}

/// Binds a simulated listener on every address of the current host.
pub async fn sim_listen(port: u16) -> io::Result<SimListener> {
    turmoil::net::TcpListener::bind(("0.0.0.0", port)).await
}

/// Connects over real TCP.
pub async fn live_connect(addr: &str) -> io::Result<LiveStream> {
    tokio::net::TcpStream::connect(addr).await
}

/// Binds a real listener.
pub async fn live_listen(addr: &str) -> io::Result<LiveListener> {
    tokio::net::TcpListener::bind(addr).await
}
