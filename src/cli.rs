//! Command-line definitions (clap derive). The `///` docs are the help text.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Deterministic SMTP simulation and fault injection: a client, an optional interceptor
/// (an antivirus proxy, a firewall) and a server on a seeded simulated network.
///
/// Exit codes: 0 every invariant held; 1 an invariant was violated; 2 bad input (unknown
/// flag, unreadable or invalid scenario; the message names file, line and column).
#[derive(Debug, Parser)]
#[command(name = "smtpsim", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario once and print its transcript and verdicts.
    Run {
        /// The scenario file (TOML), e.g. sims/symantec-rset.toml.
        scenario: PathBuf,
        /// The seed; default: the scenario's first pinned seed (or 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the transcript here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// List every built-in profile, one line each.
    List,
    /// Measure the simulator: wall time per simulated session, virtual/wall ratio (one thread).
    Bench {
        /// The scenario file.
        scenario: PathBuf,
        /// How many sessions (seeds first..first+runs).
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
    },
}
