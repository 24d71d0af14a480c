//! smtpsim: a deterministic SMTP simulation and fault-injection tool.
//!
//! A simulated network (turmoil-net's TCP, driven by an event-driven engine) runs an SMTP
//! client, an SMTP server and optionally an interceptor (a middlebox such as an antivirus
//! proxy) between them. One seed decides everything, so a run, and any bug it shows, replays
//! byte for byte.
//!
//! # Layout
//!
//! Data flows one way at run time (scenario → world → events → transcript and verdicts), and
//! so do the imports: each module below uses only modules listed before it, except that
//! `proto` at the bottom uses nothing of the crate (checked by `tests/house.rs`).
//!
//! - [`proto`]: SMTP as pure state machines (framing, commands, replies, DATA, the server,
//!   client, interceptor and script sessions, their configs and their outbox, what smtpd
//!   logs). No IO, no clock, no RNG.
//! - `knobs`: how presets and their overrides are declared.
//! - [`fault`]: fault presets, seeded fault plans, and their application as connections open.
//! - [`profile`]: presets for servers, clients and interceptors.
//! - [`catalogue`]: the sims of `sims/`, built into the binary.
//! - [`scenario`]: the TOML scenario format (its sections override any knob of a preset).
//! - [`seeds`]: every random stream of a seed, and the replay command.
//! - [`dkim`]: DKIM signatures on the client's messages, checked on the server's copies.
//! - [`net`]: real sockets for live mode, and the clock every actor reads.
//! - [`tls`]: STARTTLS's TLS layer on rustls, seeded in the simulation.
//! - [`transcript`]: the event log (data, kept or handed to a sink).
//! - [`actor`]: async drivers that run a session over any stream, recording what crosses it;
//!   the connection plumbing shared by simulation and live mode.
//! - [`oracle`]: the message ledger and its invariants.
//! - [`sim`]: scenario + seed → simulated world → transcript, outcomes, report.
//! - [`sweep`]: many seeds in parallel, sharding, the JSON and JUnit reports.
//! - [`progress`]: what a sweep prints while it runs (bar or progress lines, failures, stop).
//! - [`format`](mod@format): every rendering: the text transcript, JSON Lines, pcap, SVG, the
//!   mail log, live printers, the sweep's HTML report.
//! - [`live`]: serve and proxy on real sockets with the same sessions.
//! - [`diff`]: differential testing of serve's postfix profile against a real Postfix,
//!   ([`diff::client`]) of client profiles against the real client programs they model, and
//!   ([`diff::interceptor`]) of interceptor presets against real SMTP proxies.
//! - [`shrink`]: minimal failing plans.
//! - [`check`]: snapshot review from the binary (`smtpsim check`).
//! - [`world`]: worlds where any role is the user's own code, run, swept, shrunk and
//!   snapshotted from Rust (guide: `docs/library.md`).
//! - [`bench`](mod@bench): simulator speed (wall time and engine work per session).
//! - [`cli`]: the command-line definitions; [`app`]: the subcommands and exit codes.
//!
//! # Library use
//!
//! Run a built-in sim (the catalogue is compiled in: no file needed) at a seed, check the
//! verdicts and print (or snapshot) the transcript; put your own client, server or proxy in
//! the world with [`world::World`]. The guide is `docs/library.md`.
//!
//! ```
//! let world = smtpsim::world::World::sim("symantec-rset");
//! let result = world.run(0).unwrap();
//! assert!(result.report.passed());
//! println!("{}", smtpsim::format::text::render(&result));
//! ```

#![warn(missing_docs)]

#[macro_use]
mod knobs;
#[macro_use]
pub mod proto;

pub mod actor;
pub mod app;
pub mod bench;
pub mod catalogue;
pub mod check;
pub mod cli;
pub mod diff;
pub mod dkim;
pub mod fault;
pub mod format;
pub mod live;
pub mod net;
pub mod oracle;
pub mod profile;
pub mod progress;
pub mod scenario;
pub mod seeds;
pub mod shrink;
pub mod sim;
pub mod sweep;
pub mod tls;
pub mod transcript;
pub mod world;

/// The Rust blocks of `docs/library.md`, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/library.md")]
pub struct LibraryGuide;
