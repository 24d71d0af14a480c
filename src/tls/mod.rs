//! STARTTLS's TLS layer (RFC 3207) on rustls: everything a driver needs to turn a plain stream
//! into TLS mid-session, in the simulation (every random byte from the run's seed, certificates
//! made from the seed, validity judged by the virtual clock) and in live mode (the operating
//! system's randomness, generated or user-supplied certificates).
//!
//! - [`random`]: the run's seeded randomness, installed per thread.
//! - [`kx`]: X25519 key exchange whose private keys come from that randomness.
//! - [`provider`]: the seeded and the live crypto providers, and the simulation's clock.
//! - [`identity`]: certificate chains and keys (seeded Ed25519, live ECDSA, PEM files).
//! - [`config`]: server and client configs, and how a client verifies the server.
//! - [`keylog`]: NSS key log lines, for Wireshark and tshark.
//! - [`stream`]: [`MaybeTls`], a stream that is plain until a handshake makes it TLS.

pub mod config;
pub mod identity;
pub mod keylog;
pub mod kx;
pub mod provider;
pub mod random;
pub mod stream;

pub use config::{client_config, server_config, Verify};
pub use identity::Identity;
pub use keylog::KeyLogLines;
pub use provider::{live_provider, seeded_provider, SimClock};
pub use stream::{Handshake, MaybeTls};
