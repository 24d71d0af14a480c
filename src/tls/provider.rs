//! The crypto providers (seeded for the simulation, ring's own for live mode) and the
//! simulation's clock as rustls sees it.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;

use super::{kx, random};

/// ring's default provider with every random draw taken from the thread's seeded RNG: rustls's
/// own randomness ([`random::SeededRandom`]) and the key exchange ([`kx::X25519`], the only
/// group offered). Cipher suites, signing and signature verification are ring's, unchanged.
///
/// A handshake on a thread without [`random::seed_thread`] fails (no randomness), rather than
/// quietly using the operating system's.
pub fn seeded_provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        kx_groups: vec![kx::X25519],
        secure_random: &random::SeededRandom,
        ..rustls::crypto::ring::default_provider()
    })
}

/// ring's default provider, unchanged (the operating system's randomness): for live mode.
pub fn live_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The simulation's wall clock for rustls (certificate validity, ticket ages): `epoch_secs`
/// (Unix seconds at the start of the run) plus `crate::net::now()`, the run's virtual time.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    /// Unix time, in seconds, at which the run starts.
    pub epoch_secs: u64,
}

impl TimeProvider for SimClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(
            Duration::from_secs(self.epoch_secs) + crate::net::now(),
        ))
    }
}
