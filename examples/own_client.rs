//! A hand-written tokio SMTP client (`examples/support/client.rs`) that retries, in the
//! simulated world, through the pix-mailguard firewall (which masks EHLO, so the client falls
//! back to HELO) to the built-in Postfix, swept under the lossy-network fault preset.
//!
//! The sweep finds the seed where the server's 250 after the final dot is lost: the client
//! retries, as a client must, and the message arrives twice. The client never tells the oracle
//! it was in RFC 1047's gap (no reply after the dot), so the oracle calls it a duplicate.
//! Shrinking cuts the seed's faults down to the lost reply; the shrunk run is snapshotted
//! (`examples/snapshots/`). The careful version says when it was in the gap: the same seeds
//! then hold, the second copies counted as `duplicated-rfc1047`.
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

/// The same world with the careful client.
fn careful_world() -> World {
    World::sim("pix-mailguard")
        .faults("lossy-network")
        .client("tiny-client-careful", client::send_all_careful)
        .replay_as("careful_world()")
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
    let minimal = hunt::hunt("tiny client", &client_world(), SEEDS)?;
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_snapshot!("tiny_client_shrunk", smtpsim::format::text::render(&minimal.run));
    });
    let careful = hunt::holds("careful client", &careful_world(), SEEDS)?;
    if !careful.verdicts.contains_key("duplicated-rfc1047") {
        return Err("expected the careful client's second copies as duplicated-rfc1047".into());
    }
    Ok(())
}
