//! One seed decides a run. Every random stream is derived here from the seed, each with its
//! own name and number, so a new draw never shifts an old one; and the command that replays a
//! seed is written here, the same wherever it is printed.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The independent random streams of one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Server queue ids (one salt per run).
    Queue = 0,
    /// The fault plan a preset draws.
    Faults = 1,
    /// Packet latencies.
    Network = 2,
    /// `smtpsim diff`'s generated session (each session is its own seed).
    Session = 3,
    /// The server's certificates (its CA's and its own keys and serial numbers).
    Certificates = 4,
    /// Every random byte of the run's TLS handshakes (randoms, key shares, tickets).
    Tls = 5,
    /// The interceptor's certificates (TLS inspection).
    InterceptorCertificates = 6,
    /// The key that signs the client's messages with DKIM.
    Dkim = 7,
    /// `smtpsim diff --client`'s generated server behaviour (each behaviour is its own seed).
    ClientBehaviour = 8,
    /// `smtpsim diff --interceptor`'s generated client and filter (the server's part is drawn
    /// as `ClientBehaviour`).
    InterceptorBehaviour = 9,
}

/// The generator for `stream` of `seed`.
pub fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// The salt of a run's server queue ids.
pub fn queue_salt(seed: u64) -> u64 {
    rng(seed, Stream::Queue).next_u64()
}

/// The command that replays `seed` of the scenario `file` under the fault preset `faults`.
pub fn replay_command(file: &str, seed: u64, faults: &str) -> String {
    if faults == "none" {
        format!("smtpsim run {file} --seed {seed}")
    } else {
        format!("smtpsim run {file} --seed {seed} --faults {faults}")
    }
}

/// The Rust call that replays `seed` of the world the expression `world` builds
/// ([`crate::world::World`]): what a test pastes.
pub fn replay_call(world: &str, seed: u64) -> String {
    format!("{world}.run({seed})")
}
