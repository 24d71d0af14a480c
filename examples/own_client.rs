//! A hand-written tokio SMTP client (`examples/support/client.rs`) that retries, in the
//! simulated world, through the pix-mailguard firewall (which masks EHLO, so the client falls
//! back to HELO) to the built-in Postfix, swept under the lossy-network fault preset.
//!
//! The sweep finds the seed where the server's 250 after the final dot is lost: the client
//! retries, as a client must, and the message arrives twice. The client never tells the oracle
//! it was in RFC 1047's gap (no reply after the dot), so the oracle calls it a duplicate.
//! Shrinking cuts the seed's faults down to the lost reply; the shrunk run is snapshotted
//! (`examples/snapshots/`).
//!
//! Run it with `cargo run --release --example own_client`; it exits 0 when all of that holds.

#[path = "support/client.rs"]
mod client;
#[path = "support/hunt.rs"]
mod hunt;

use smtpsim::world::World;
use std::process::ExitCode;

/// The seeds swept.
const SEEDS: std::ops::Range<u64> = 1000..1600;

/// The client through the PIX on a lossy network.
fn client_world() -> World {
    World::sim("pix-mailguard")
        .faults("lossy-network")
        .client("tiny-client", client::send_all)
        .replay_as("client_world()")
}

fn main() -> ExitCode {
    let minimal = match hunt::hunt("tiny client", &client_world(), SEEDS) {
        Ok(minimal) => minimal,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_snapshot!("tiny_client_shrunk", smtpsim::format::text::render(&minimal.run));
    });
    ExitCode::SUCCESS
}
