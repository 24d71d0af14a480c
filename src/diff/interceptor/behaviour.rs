//! A generated behaviour for `smtpsim diff --interceptor`: both ends and the proxy's filter.
//! The server's part (EHLO keywords, STARTTLS and CHUNKING offered or not, recipients, a
//! reply of any class at any stage, a delay past the client's timeout, a drop, a crash after
//! `.`) is drawn as `diff --client` draws it; then the client (one of smtpsim's client
//! profiles: lock-step or pipelining, DATA or BDAT), whether it leaves in the middle of the
//! message, and the filter (passes, refuses, or takes long as a scan does). A behaviour is a
//! scenario file with the proxy's preset in `[interceptor]`.

use crate::diff::client::behaviour::{self as ends, Limits};
use crate::diff::runner::Generated;
use crate::fault::{FaultEvent, Writer};
use crate::seeds::{self, Stream};
use rand::seq::IndexedRandom;
use rand::Rng;
use std::fmt;
use std::time::Duration;

/// The client profiles a behaviour picks from (none has a queue: one connection each).
pub const CLIENTS: [&str; 6] = [
    "swaks",
    "smtplib",
    "msmtp",
    "nullmailer",
    "pipelining",
    "exchange",
];
/// Every client timeout, on both sides (a server delay is drawn past it).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long the slow filter takes (a long scan, shorter than the client's timeout).
pub const SLOW_FILTER: Duration = Duration::from_secs(3);
/// The line the refusing filter looks for, added to the message it refuses.
pub const SIGNATURE: &str = "SMTPSIM-FILTER-TEST-SIGNATURE";
/// The client's connection drops before it writes the content line that starts with this.
const LEAVE_AT: &str = "hello";

/// What the proxy's filter does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Passes every message unchanged, at once.
    Pass,
    /// Refuses a message with [`SIGNATURE`] in it (and the message has it).
    Reject,
    /// Passes every message after [`SLOW_FILTER`].
    Slow,
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Filter::Pass => "pass",
            Filter::Reject => "reject",
            Filter::Slow => "slow",
        })
    }
}

/// One generated behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    /// The server's part, and the client's drop (a client fault event among its events).
    pub ends: ends::Behaviour,
    /// The client profile.
    pub client: &'static str,
    /// The filter.
    pub filter: Filter,
    /// The optional EHLO keywords come last (so the reply may end with one a proxy strips).
    pub optional_last: bool,
    /// The line the refusing filter looks for: [`SIGNATURE`] unless the proxy's own test
    /// string stands for it (spampd's SpamAssassin: GTUBE).
    pub signature: &'static str,
}

impl Behaviour {
    /// The behaviour `seed` draws, its filter one of `filters` (those the proxy can run).
    pub fn generate(seed: u64, filters: &[Filter]) -> Behaviour {
        let mut ends = ends::Behaviour::generate(
            seed,
            Limits {
                timeout: Some(TIMEOUT),
            },
        );
        let mut rng = seeds::rng(seed, Stream::InterceptorBehaviour);
        let client = *CLIENTS.choose(&mut rng).expect("non-empty");
        // Passing three times in five, else another the proxy can run.
        let drawn = *[
            Filter::Pass,
            Filter::Pass,
            Filter::Pass,
            Filter::Reject,
            Filter::Slow,
        ]
        .choose(&mut rng)
        .expect("non-empty");
        let filter = if filters.contains(&drawn) {
            drawn
        } else {
            Filter::Pass
        };
        let optional_last = rng.random_bool(0.5);
        if rng.random_bool(0.1) {
            ends.events.push(FaultEvent::DropAtLine {
                writer: Writer::Client,
                connection: 1,
                line: LEAVE_AT.into(),
            });
        }
        Behaviour {
            ends,
            client,
            filter,
            optional_last,
            signature: SIGNATURE,
        }
    }

    /// The same behaviour with `signature` as the line its refusing filter looks for.
    pub fn with_signature(self, signature: &'static str) -> Behaviour {
        Behaviour { signature, ..self }
    }

    /// The EHLO keywords the server offers, in order.
    pub fn ehlo_keywords(&self) -> Vec<String> {
        let mut all = self.ends.ehlo_keywords();
        if self.optional_last {
            all.rotate_left(self.ends.keywords.len());
        }
        all
    }

    /// The message body (LF line ends): with the signature for a refusing filter.
    pub fn body(&self) -> String {
        let body = ends::BODY;
        match self.filter {
            Filter::Reject => body.replace("bye\n", &format!("{}\nbye\n", self.signature)),
            _ => body.to_string(),
        }
    }

    /// The behaviour as a scenario: `proxy` compared with `preset`, whose knobs for this
    /// behaviour's filter are `filter_knobs` (TOML values).
    pub fn scenario(&self, proxy: &str, preset: &str, filter_knobs: &[(&str, String)]) -> String {
        let mut out = format!(
            "# smtpsim diff --interceptor {proxy}: behaviour {seed}\n\
             # live: smtpsim diff --interceptor {proxy} --replay THIS_FILE\n\
             # simulation: smtpsim run THIS_FILE\n\
             name = \"interceptor-diff-{proxy}-{seed}\"\n\
             about = \"behaviour {seed} of smtpsim diff --interceptor {proxy} (filter: {filter})\"\n\
             seeds = [{seed}]\n\n[client]\nprofile = {client:?}\n",
            seed = self.ends.seed,
            filter = self.filter,
            client = self.client,
        );
        // One connection, as the live side makes: no retry of the client's own.
        out.push_str("retries = 0\n");
        for (knob, value) in crate::diff::client::programs::timeout_knobs(Some(TIMEOUT)) {
            out.push_str(&format!("{knob} = {value}\n"));
        }
        out.push_str(&self.ends.message_toml(&self.body()));
        out.push_str(&format!("\n[interceptor]\nprofile = {preset:?}\n"));
        for (knob, value) in filter_knobs {
            out.push_str(&format!("{knob} = {value}\n"));
        }
        out.push_str(&self.ends.server_toml_with(&self.ehlo_keywords()));
        out
    }

    /// The filter a replayed scenario ran with (its `about` line says).
    pub fn filter_of(about: &str) -> Filter {
        if about.contains("(filter: reject)") {
            Filter::Reject
        } else if about.contains("(filter: slow)") {
            Filter::Slow
        } else {
            Filter::Pass
        }
    }
}

impl Generated for Behaviour {
    fn seed(&self) -> u64 {
        self.ends.seed
    }

    /// Smaller behaviours, one change each: the ends' smaller ones, and a passing filter.
    fn smaller(&self) -> Vec<Behaviour> {
        let mut out: Vec<Behaviour> = self
            .ends
            .smaller()
            .into_iter()
            .map(|ends| Behaviour {
                ends,
                ..self.clone()
            })
            .collect();
        if self.filter != Filter::Pass {
            out.push(Behaviour {
                filter: Filter::Pass,
                ..self.clone()
            });
        }
        if self.optional_last {
            out.push(Behaviour {
                optional_last: false,
                ..self.clone()
            });
        }
        out
    }

    /// One line: the client, the filter, then the ends.
    fn describe(&self) -> String {
        format!(
            "client {} · filter {} · {}{}",
            self.client,
            self.filter,
            self.ends.describe(),
            if self.optional_last {
                " · the optional EHLO keywords last"
            } else {
                ""
            }
        )
    }
}
