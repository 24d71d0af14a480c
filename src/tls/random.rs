//! The run's TLS randomness: a seeded RNG per thread, and the rustls `SecureRandom` that draws
//! from it. A simulation runs each run on one thread and installs the run's RNG at its start, so
//! every random byte of every handshake in that run (client and server randoms, session ids,
//! tickets, ephemeral keys) comes from the seed, in the order the run asks for them.

use std::cell::RefCell;

use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use rustls::crypto::{GetRandomFailed, SecureRandom};

thread_local! {
    /// The TLS RNG of the run on this thread, if one is installed.
    static RNG: RefCell<Option<ChaCha8Rng>> = const { RefCell::new(None) };
}

/// Installs `rng` as this thread's TLS randomness (the simulation calls it at the start of each
/// run), replacing any earlier one.
pub fn seed_thread(rng: ChaCha8Rng) {
    RNG.with(|r| *r.borrow_mut() = Some(rng));
}

/// Removes this thread's TLS randomness: from now on [`fill`] fails until [`seed_thread`].
pub fn clear_thread() {
    RNG.with(|r| *r.borrow_mut() = None);
}

/// Whether this thread has TLS randomness installed.
pub fn is_seeded() -> bool {
    RNG.with(|r| r.borrow().is_some())
}

/// Fills `buf` from this thread's seeded RNG; fails if none is installed (never falls back to
/// the operating system, which would make a run unrepeatable without saying so).
pub fn fill(buf: &mut [u8]) -> Result<(), GetRandomFailed> {
    RNG.with(|r| match r.borrow_mut().as_mut() {
        Some(rng) => {
            rng.fill_bytes(buf);
            Ok(())
        }
        None => Err(GetRandomFailed),
    })
}

/// rustls's source of randomness in the seeded provider: [`fill`] on the calling thread.
#[derive(Debug)]
pub struct SeededRandom;

impl SecureRandom for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        fill(buf)
    }
}
