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
        /// Fault preset (none, lossy-network, flaky-server, chaos); default: the scenario's.
        #[arg(long)]
        faults: Option<String>,
        /// Output format: text (the transcript), json (JSON Lines), pcap (for Wireshark/tshark),
        /// svg (a sequence diagram), maillog (the server's log as Postfix writes it),
        /// maillog-verbose (with `smtpd -v`'s dialogue lines); default: from --output's
        /// extension (.json, .jsonl, .pcap, .svg, .log), else text.
        #[arg(long, value_enum)]
        format: Option<crate::format::Format>,
        /// Write the output here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Write the run's TLS session secrets here (SSLKEYLOGFILE format), so that
        /// Wireshark or `tshark -o tls.keylog_file:FILE` shows the SMTP inside a pcap's TLS.
        #[arg(long, value_name = "FILE")]
        keylog: Option<PathBuf>,
    },
    /// Run many seeds; print each failing seed with its replay command as it is found (20, then
    /// a count) and a verdict summary.
    Sweep {
        /// The scenario file.
        scenario: PathBuf,
        /// Half-open seed range, as in Rust: 0..10000 is 10,000 seeds.
        #[arg(long, default_value = "0..1000")]
        seeds: String,
        /// Fault preset; default: the scenario's.
        #[arg(long)]
        faults: Option<String>,
        /// Threads (one simulation per thread at a time); 0 or none: one per core.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard I of N (1-based): seeds with seed % N == I - 1 (a shard with no
        /// seeds is an error).
        #[arg(long)]
        shard: Option<String>,
        /// Write the JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write a JUnit XML report here: one test case per seed that ran, failures with the
        /// command that replays them.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write a self-contained HTML report here: verdicts, a bar per broken invariant, and
        /// per failing seed (the first 10 drawn) its fault plan, sequence diagram and commands.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Stop at the first failing seed (the seeds already running finish).
        #[arg(long)]
        fail_fast: bool,
        /// Stop after this many failing seeds (N >= 1; leave it out for no limit).
        #[arg(long, value_name = "N")]
        max_fail: Option<usize>,
        /// Without a terminal: print a progress line on stderr this often (done/total, rate,
        /// failures so far); 0s: never.
        #[arg(long, value_name = "DURATION", default_value = "10s")]
        progress_interval: String,
    },
    /// Merge the JSON reports of a sweep's shards into the report of the whole sweep (every
    /// shard 1..N of one split, each once and complete, all of the same scenario, faults and
    /// seeds) and print its summary.
    Merge {
        /// Shard reports (from `sweep --shard I/N --json FILE`).
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Write the merged JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write a JUnit XML report of the whole sweep here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write the HTML report of the whole sweep here (reads the scenario file the reports
        /// name).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Shrink a failing seed's fault plan to the smallest plan that still breaks the same invariant.
    Shrink {
        /// The scenario file.
        scenario: PathBuf,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// Fault preset; default: the scenario's.
        #[arg(long)]
        faults: Option<String>,
    },
    /// Print the fault plan a seed draws, as TOML to paste into a scenario.
    Plan {
        /// The scenario file.
        scenario: PathBuf,
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// Fault preset; default: the scenario's.
        #[arg(long)]
        faults: Option<String>,
    },
    /// List every built-in profile, one line each; with a preset's name, every knob of that
    /// preset: its meaning, its form with an example, and the preset's value.
    List {
        /// A preset (e.g. symantec-rset, postfix, lossy-network).
        preset: Option<String>,
    },
    /// Write a scenario to edit, NAME.toml, starting from a built-in sim or a scenario file.
    New {
        /// The new scenario's name (the file is NAME.toml unless NAME ends in .toml).
        name: String,
        /// The sim to start from: a built-in name (see `smtpsim list`) or a file.
        #[arg(long, default_value = "symantec-rset")]
        from: String,
    },
    /// A real SMTP server on a real socket, with any server profile; prints the transcript live.
    Serve {
        /// Address to listen on (loopback unless you say otherwise).
        #[arg(long, default_value = "127.0.0.1:2525")]
        listen: String,
        /// Server profile (see `smtpsim list`).
        #[arg(long, default_value = "postfix")]
        profile: String,
        /// Serve the [server] section of this scenario (a file or a built-in sim) instead of a
        /// profile, with its faults (its preset's plan for --seed and its [[faults.event]]s)
        /// unless --faults is given; --set still applies on top. The file may leave out `name`
        /// and [client].
        #[arg(long, value_name = "FILE", conflicts_with = "profile")]
        scenario: Option<PathBuf>,
        /// Override a profile knob, e.g. --set message_size_limit=60000000 --set timeout=30s.
        #[arg(long = "set", value_name = "KNOB=VALUE")]
        set: Vec<String>,
        /// Store accepted messages in this Maildir (tmp/ then renamed into new/).
        #[arg(long)]
        maildir: Option<PathBuf>,
        /// Fault preset whose transport and application faults are drawn from --seed (with
        /// --scenario: instead of the scenario's faults).
        #[arg(long)]
        faults: Option<String>,
        /// Seed for queue ids and faults.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// What stdout shows: text (the transcript), json (JSON Lines), maillog (the log
        /// Postfix would write) or maillog-verbose (with `smtpd -v`'s dialogue lines).
        #[arg(long, value_enum, default_value = "text")]
        format: crate::format::LiveFormat,
        /// Write each client session as a scenario (script client) to this file; later
        /// sessions go to FILE-2.toml, FILE-3.toml, ...
        #[arg(long)]
        record: Option<PathBuf>,
        /// With --record: every read its own step and every pause as measured, loopback
        /// jitter included (default: reads under 50 ms apart with no reply between them are
        /// one write, as pipelined commands are; pauses under 50 ms are recorded as none).
        #[arg(long, requires = "record")]
        record_exact: bool,
        /// Sessions at once; a client beyond them gets `421 4.7.0 ... Error: too many
        /// connections` and a close (so does every client while the process is out of file
        /// descriptors).
        #[arg(long, default_value_t = 5000)]
        max_connections: usize,
        /// Threads running the sessions. Default 1 (every session on one thread, no hand-offs
        /// between threads: the least work per message); with --maildir one per core, as each
        /// message's fsync holds its thread.
        #[arg(long)]
        threads: Option<usize>,
        /// STARTTLS (--tls, --cert, --key).
        #[command(flatten)]
        tls: ServeTls,
        /// A Postfix main.cf (--postconf, --strict).
        #[command(flatten)]
        postconf: Postconf,
    },
    /// Sweep every sim under a fault preset looking for failures of the simulator itself: a
    /// panic, a run that cannot complete, a run stuck until its time limit (liveness). The
    /// sims' own findings (lost mail, duplicates) are counted, not failures. Exit 1 on any
    /// failure, each printed with the command that replays it.
    Soak {
        /// The sims; default: every sims/*.toml.
        sims: Vec<PathBuf>,
        /// Seeds per sim, A..B.
        #[arg(long, default_value = "0..1000")]
        seeds: String,
        /// Fault preset.
        #[arg(long, default_value = "chaos")]
        faults: String,
        /// Parallel jobs (0: one per core).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
    },
    /// Run every sim at its pinned seeds and compare with its snapshot in snapshots/ (the
    /// files the test suite keeps); print a unified diff per change. Exit 1 on any change.
    Check {
        /// The sims to check; default: every sims/*.toml.
        sims: Vec<PathBuf>,
        /// Write the changed and new snapshots instead of failing.
        #[arg(long)]
        accept: bool,
        /// The snapshot directory.
        #[arg(long, default_value = "snapshots")]
        snapshots: PathBuf,
    },
    /// Differential testing. Server: generated SMTP sessions played against a real Postfix and
    /// against serve's postfix profile (configured like the reference), compared reply by
    /// reply; each kind of difference in code, enhanced code or close is shrunk to its shortest
    /// session and printed as a parity script. Client (--client NAME): generated server
    /// behaviours (EHLO offers, replies of any class at any stage, delays, drops, a crash
    /// after '.') met by the real client program and by its client profile in the
    /// simulation, compared on commands, their grouping, the content as sent (header names, body lines), outcome, attempts and copies held;
    /// each kind of difference is shrunk and printed as a scenario that replays it. Exit 1 if
    /// any difference is not known; exit 2 if the program is missing.
    Diff(DiffArgs),
    /// A real interceptor between real clients and a real server; prints the transcript live.
    Proxy {
        /// The server to forward to, HOST:PORT.
        #[arg(long)]
        upstream: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:2526")]
        listen: String,
        /// Interceptor profile (see `smtpsim list`).
        #[arg(long, default_value = "symantec-telnet")]
        profile: String,
        /// Run the [interceptor] section of this scenario (a file or a built-in sim) instead of
        /// a profile; --set still applies on top. The file may leave out `name` and [client].
        #[arg(long, value_name = "FILE", conflicts_with = "profile")]
        scenario: Option<PathBuf>,
        /// Do not open the test connection to --upstream at start. By default the proxy
        /// connects once and closes at once, so a wrong address shows before the first client;
        /// the server logs it as a connection that sent nothing (Postfix: `lost connection
        /// after CONNECT`).
        #[arg(long)]
        no_probe: bool,
        /// Override a profile knob, e.g. --set keepalive_interval=2s.
        #[arg(long = "set", value_name = "KNOB=VALUE")]
        set: Vec<String>,
        /// What stdout shows: text (the transcript), json (JSON Lines), maillog (each client's
        /// session as a Postfix smtpd would log it: what the proxy's clients did, beside what
        /// the server behind it logs) or maillog-verbose (with `smtpd -v`'s dialogue lines).
        #[arg(long, value_enum, default_value = "text")]
        format: crate::format::LiveFormat,
        /// Sessions at once; a client beyond them gets a 421 and a close.
        #[arg(long, default_value_t = 5000)]
        max_connections: usize,
        /// Threads running the sessions (1: every session on one thread, the least work per
        /// message; more spread them over cores).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Measure the simulator. Without --jobs: wall time per simulated session and the
    /// virtual/wall ratio on one thread. With --jobs (repeatable): a sweep of the same seeds
    /// per job count, side by side, in sessions per second.
    Bench {
        /// The scenario file.
        scenario: PathBuf,
        /// How many sessions (seeds first..first+runs).
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Fault preset; default: the scenario's.
        #[arg(long)]
        faults: Option<String>,
        /// Sweep with this many threads; give it more than once to compare (e.g. --jobs 1 --jobs 2).
        #[arg(long)]
        jobs: Vec<usize>,
    },
}

/// The arguments of `smtpsim diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The reference Postfix, HOST:PORT (`tests/parity/start-postfix.sh` starts one on
    /// 127.0.0.1:10026 with smtpd_error_sleep_time=0, which smtpsim's side matches).
    #[arg(long, required_unless_present_any = ["print", "client", "interceptor"], conflicts_with_all = ["client", "interceptor"])]
    pub against: Option<String>,
    /// Compare a real client program with its client profile instead: ssmtp, msmtp,
    /// nullmailer, smtplib, swaks or postfix.
    #[arg(long, value_name = "PROGRAM", conflicts_with = "interceptor")]
    pub client: Option<String>,
    /// Compare a real SMTP proxy with its interceptor preset instead: proxsmtp, clamsmtp or
    /// spampd. The proxy runs on loopback between a client session and `serve` (both in this
    /// process).
    #[arg(long, value_name = "PROXY")]
    pub interceptor: Option<String>,
    /// With --client or --interceptor: how many generated behaviours (seeds S..S+N).
    #[arg(long, default_value_t = 100)]
    pub behaviours: u64,
    /// With --client or --interceptor: the program to run (default: where its package puts it).
    #[arg(long, value_name = "PATH")]
    pub program: Option<PathBuf>,
    /// With --client (--interceptor): compare with this client profile (interceptor preset)
    /// instead of the program's own (see `smtpsim list`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// With --client or --interceptor: run this behaviour file (a scenario printed by a
    /// difference) on both sides and show what each did.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// How many sessions (seeds S..S+N; each session is its own seed).
    #[arg(long, default_value_t = 1000)]
    pub sessions: u64,
    /// The first session's seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sessions played at once (Postfix allows 50 connections per client).
    #[arg(long, default_value_t = 8)]
    pub jobs: usize,
    /// Start no new session after this long, e.g. 60s.
    #[arg(long)]
    pub budget: Option<String>,
    /// Override a knob of smtpsim's side, e.g. --set error_sleep=1s for a reference with
    /// Postfix's default delays.
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    pub set: Vec<String>,
    /// Print the generated sessions as parity scripts instead of playing them.
    #[arg(long)]
    pub print: bool,
    /// Report each kind of difference with its first session as generated, unshrunk.
    #[arg(long)]
    pub no_shrink: bool,
    /// Configure smtpsim's side from the reference's main.cf (--postconf, --strict); the
    /// local users stay bob, carol, root and postmaster.
    #[command(flatten)]
    pub postconf: Postconf,
}

/// Configuring the postfix profile from a Postfix `main.cf`.
#[derive(Debug, Clone, clap::Args)]
pub struct Postconf {
    /// A Postfix main.cf or `postconf -n` output: myhostname, mydestination, relay_domains,
    /// mynetworks, restrictions, limits... configure the profile (before any --set);
    /// parameters not modelled are listed on stderr.
    #[arg(long, value_name = "FILE")]
    pub postconf: Option<PathBuf>,
    /// With --postconf: a parameter that is not modelled is an error (exit 2).
    #[arg(long, requires = "postconf")]
    pub strict: bool,
}

/// `serve`'s STARTTLS (RFC 3207).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeTls {
    /// Offer STARTTLS with a certificate made at start for the profile's hostname (ECDSA
    /// P-256, signed by a CA made at start; clients that verify will refuse it).
    #[arg(long)]
    pub tls: bool,
    /// Offer STARTTLS with this certificate chain (PEM, the server's certificate first).
    #[arg(long, requires = "key", value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, requires = "cert", value_name = "PEM")]
    pub key: Option<PathBuf>,
}
