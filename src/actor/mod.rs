//! Async drivers for the protocol sessions, generic over any `AsyncRead + AsyncWrite` stream,
//! so the same code runs on the simulated TCP (turmoil-net) and on real sockets: each driver
//! moves bytes between the stream and its session and feeds it the time; the recorder writes
//! what crosses the stream into the transcript and applies transport faults; the plumbing
//! opens, names and wraps connections the same way for both.

pub mod client;
pub mod interceptor;
pub mod plumbing;
pub mod recorder;
pub mod server;
pub mod starttls;

pub use recorder::Recorded;
pub use starttls::TlsSetup;

/// A driver's buffer for one read of a stream: empty, with room for 16 KiB, to be filled with
/// `read_buf` and cleared after each read (spare capacity: nothing is zeroed per connection).
fn read_buffer() -> Vec<u8> {
    Vec::with_capacity(16 * 1024)
}
