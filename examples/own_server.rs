//! A hand-written tokio SMTP server (`examples/support/server.rs`) in the simulated world,
//! behind the symantec-rset AV proxy, swept under the lossy-network fault preset.
//!
//! The lazy version says 250 and stores the session's mail only at QUIT: the sweep finds the
//! seeds where the session ends without a QUIT, the oracle calls the message lost (the client
//! was told it was accepted), and shrinking cuts the seed's faults down to the one that does
//! it. The shrunk run is snapshotted (`examples/snapshots/`). The fixed version, which stores
//! before it answers, holds on every seed.
//!
//! Run it with `cargo run --release --example own_server`; it exits 0 when all of that holds.

#[path = "support/hunt.rs"]
mod hunt;
#[path = "support/server.rs"]
mod server;

use smtpsim::world::World;
use std::process::ExitCode;

/// The seeds swept.
const SEEDS: std::ops::Range<u64> = 0..1000;

/// The lazy server behind symantec-rset on a lossy network.
fn lazy_world() -> World {
    World::sim("symantec-rset")
        .faults("lossy-network")
        .server("tiny-server-lazy", server::serve_lazy)
        .replay_as("lazy_world()")
}

/// The same world with the fixed server.
fn fixed_world() -> World {
    World::sim("symantec-rset")
        .faults("lossy-network")
        .server("tiny-server", server::serve)
        .replay_as("fixed_world()")
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let minimal = hunt::hunt("lazy server", &lazy_world(), SEEDS)?;
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_snapshot!("lazy_server_shrunk", smtpsim::format::text::render(&minimal.run));
    });
    hunt::holds("fixed server", &fixed_world(), SEEDS)?;
    Ok(())
}
