//! Async drivers for the protocol sessions, generic over any `AsyncRead + AsyncWrite` stream,
//! so the same code runs on turmoil's simulated TCP and on real sockets. A driver only moves
//! bytes between the stream and its session, feeds it the time, and records what it sees.

pub mod client;
pub mod interceptor;
pub mod recorder;
pub mod server;

pub use recorder::Recorded;
