//! smtpsim: a deterministic SMTP simulation and fault-injection tool.
//!
//! A simulated network (turmoil) runs an SMTP client, an SMTP server and optionally an
//! interceptor (a middlebox such as an antivirus proxy) between them. One seed decides
//! everything, so a run, and any bug it shows, replays byte for byte.
//!
//! # Layout
//!
//! - [`proto`]: SMTP as pure state machines (framing, commands, replies, DATA, and the
//!   server, client and interceptor sessions). No IO, no clock, no RNG.
//! - [`profile`]: presets for servers, clients and interceptors; every knob overridable.
//! - [`actor`]: async drivers that run a session over any stream, recording what they see.
//! - [`net`]: the only module naming turmoil's or tokio's network types, and the clock.
//! - [`scenario`]: the TOML scenario format and its resolution into configs.
//! - [`sim`]: scenario + seed → turmoil world → transcript, outcomes, report.
//! - [`oracle`]: the message ledger and its invariants.
//! - [`fault`]: fault presets and seeded fault plans.
//! - [`sweep`]: many seeds in parallel, sharding, the JSON report; [`shrink`]: minimal failing plans.
//! - [`transcript`]: the event log and its text rendering; [`format`]: JSON Lines, pcap, SVG.
//! - [`live`]: serve and proxy on real sockets with the same sessions.
//! - [`bench`]: simulator speed (wall time per session).
//! - [`cli`]: the command-line definitions; [`app`]: the subcommands and exit codes.
//!
//! # Library use
//!
//! ```no_run
//! let scenario = smtpsim::scenario::Scenario::load("sims/symantec-rset.toml".as_ref()).unwrap();
//! let result = smtpsim::sim::run(&scenario, 0).unwrap();
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
pub mod cli;
pub mod fault;
pub mod format;
pub mod live;
pub mod net;
pub mod oracle;
pub mod profile;
pub mod scenario;
pub mod seeds;
pub mod shrink;
pub mod sim;
pub mod sweep;
pub mod transcript;
