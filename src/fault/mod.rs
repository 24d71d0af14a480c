//! The fault model: fault presets (`none`, `lossy-network`, `flaky-server`, `chaos`) whose
//! knobs and a seed give a concrete [`FaultPlan`], a list of timed or triggered events that is
//! printed in the transcript header and can be written as TOML and pasted into a scenario.
//!
//! Layers: network (holds, partitions, crashes: applied by the engine to the simulated packets),
//! transport (drops, split writes, stalls: applied by the stream wrapper) and application
//! (server replies, delays and crashes at a stage; interceptor scan time).

mod state;
pub use state::FaultState;

use crate::knobs::unknown_preset;
use crate::proto::dur::Dur;
pub use crate::proto::server::ServerStage;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `(name, one-line description)` of every fault preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("none", "no faults"),
    (
        "lossy-network",
        "latency up to 100 ms, delay spikes, split writes, rare partitions and dropped connections",
    ),
    (
        "flaky-server",
        "server tempfails, permfails, stalls past client timeouts, crashes between '.' and 250",
    ),
    (
        "chaos",
        "lossy-network and flaky-server together, plus host crashes",
    ),
];

/// One side of the simulated network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    /// Client to its first hop (interceptor or server).
    ClientSide,
    /// Interceptor to server (client to server without an interceptor).
    ServerSide,
}

/// A host that can crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Host {
    /// The SMTP server.
    Server,
    /// The middlebox.
    Interceptor,
}

impl Host {
    /// The simulated host's name.
    pub fn name(self) -> &'static str {
        match self {
            Host::Server => "server",
            Host::Interceptor => "interceptor",
        }
    }
}

/// Whose writes a transport fault acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Writer {
    /// The client's writes.
    Client,
    /// The interceptor's writes toward the client.
    InterceptorToClient,
    /// The interceptor's writes toward the server.
    InterceptorToServer,
    /// The server's writes.
    Server,
}

/// One fault. `connection` counts the connections of that writer or server from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultEvent {
    /// Segments on `link` are held (delayed, not lost) from `at` for `duration`.
    Hold {
        /// Which link.
        link: Link,
        /// Start.
        at: Dur,
        /// How long.
        duration: Dur,
    },
    /// Segments on `link` are lost from `at` for `duration`. TCP retransmits: a partition
    /// shorter than the retransmission give-up (`[network] rto` × (`tcp_retries` + 1)) only
    /// slows the session; a longer one resets its connections.
    Partition {
        /// Which link.
        link: Link,
        /// Start.
        at: Dur,
        /// How long.
        duration: Dur,
    },
    /// `host` crashes at `at` (its connections close) and restarts `restart_after` later.
    Crash {
        /// Which host.
        host: Host,
        /// When.
        at: Dur,
        /// Downtime.
        restart_after: Dur,
    },
    /// `writer`'s connection is cut after it has written `after_bytes` bytes.
    Drop {
        /// Whose writes.
        writer: Writer,
        /// Which of its connections.
        connection: u32,
        /// Bytes written before the cut.
        after_bytes: u64,
    },
    /// `writer`'s connection is cut just before it writes a line starting with `line` (a
    /// command or reply, e.g. `DATA` or `250 2.0.0`).
    DropAtLine {
        /// Whose writes.
        writer: Writer,
        /// Which of its connections.
        connection: u32,
        /// Prefix of the line that is never written.
        line: String,
    },
    /// `writer`'s writes within `window` of the first are sent together as one segment
    /// (pipelined commands, or the end of a message and its '.', arrive at once).
    Coalesce {
        /// Whose writes.
        writer: Writer,
        /// Which of its connections.
        connection: u32,
        /// How long writes are gathered.
        window: Dur,
    },
    /// `writer`'s writes go out in segments of at most `max_segment` bytes.
    Split {
        /// Whose writes.
        writer: Writer,
        /// Which of its connections.
        connection: u32,
        /// Largest segment.
        max_segment: u32,
    },
    /// `writer` stalls for `duration` before writing a line that starts with `line`.
    Stall {
        /// Whose writes.
        writer: Writer,
        /// Which of its connections.
        connection: u32,
        /// Prefix of the line that triggers the stall.
        line: String,
        /// How long.
        duration: Dur,
    },
    /// The server answers `stage` of its `connection`-th session with `reply` instead.
    ServerReply {
        /// Which server session.
        connection: u32,
        /// Where.
        stage: ServerStage,
        /// The reply, e.g. `451 4.3.0 Error: queue file write error`.
        reply: String,
        /// Which command of that stage in the session it answers, from 1 (`stage = "rcpt"`,
        /// `nth = 2`: the second RCPT). Absent: the first one the fault is still pending at.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nth: Option<u32>,
    },
    /// The server delays its reply at `stage` by `duration`.
    ServerDelay {
        /// Which server session.
        connection: u32,
        /// Where.
        stage: ServerStage,
        /// How long.
        duration: Dur,
    },
    /// The server queues the message, then crashes before its 250 (RFC 1047's gap) and
    /// restarts `restart_after` later.
    ServerCrashAfterDot {
        /// Which server session.
        connection: u32,
        /// Downtime.
        restart_after: Dur,
    },
}

impl FaultEvent {
    /// For a transport fault: whose writes, on which of its connections.
    pub fn transport_target(&self) -> Option<(Writer, u32)> {
        match self {
            FaultEvent::Drop {
                writer, connection, ..
            }
            | FaultEvent::DropAtLine {
                writer, connection, ..
            }
            | FaultEvent::Coalesce {
                writer, connection, ..
            }
            | FaultEvent::Split {
                writer, connection, ..
            }
            | FaultEvent::Stall {
                writer, connection, ..
            } => Some((*writer, *connection)),
            _ => None,
        }
    }

    /// What a live server does to its `connection`-th session of this plan (its own replies,
    /// delays, crash after `.`, and faults on its own writes), as events for a session that
    /// is the first: what a recording of that session replays.
    pub fn for_server_session(plan: &FaultPlan, connection: u32) -> Vec<FaultEvent> {
        plan.events
            .iter()
            .filter_map(|e| {
                let mut e = e.clone();
                let n = match &mut e {
                    FaultEvent::ServerReply { connection, .. }
                    | FaultEvent::ServerDelay { connection, .. }
                    | FaultEvent::ServerCrashAfterDot { connection, .. } => connection,
                    FaultEvent::Drop {
                        writer: Writer::Server,
                        connection,
                        ..
                    }
                    | FaultEvent::DropAtLine {
                        writer: Writer::Server,
                        connection,
                        ..
                    }
                    | FaultEvent::Coalesce {
                        writer: Writer::Server,
                        connection,
                        ..
                    }
                    | FaultEvent::Split {
                        writer: Writer::Server,
                        connection,
                        ..
                    }
                    | FaultEvent::Stall {
                        writer: Writer::Server,
                        connection,
                        ..
                    } => connection,
                    _ => return None,
                };
                if *n != connection {
                    return None;
                }
                *n = 1;
                Some(e)
            })
            .collect()
    }

    /// The time a timed (network) event starts, if it is one.
    pub fn at(&self) -> Option<Dur> {
        match self {
            FaultEvent::Hold { at, .. }
            | FaultEvent::Partition { at, .. }
            | FaultEvent::Crash { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// A value as a scenario spells it (`interceptor-to-client`, `mail`): its serde name, so the
/// printed plan and the TOML that replays it use the same words.
fn spelling<T: Serialize + fmt::Debug>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{value:?}"),
    }
}

impl fmt::Display for FaultEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let link = |l: &Link| match l {
            Link::ClientSide => "client-side link",
            Link::ServerSide => "server-side link",
        };
        match self {
            FaultEvent::Hold {
                link: l,
                at,
                duration,
            } => write!(f, "hold {} at {at} for {duration}", link(l)),
            FaultEvent::Partition {
                link: l,
                at,
                duration,
            } => write!(f, "partition {} at {at} for {duration}", link(l)),
            FaultEvent::Crash {
                host,
                at,
                restart_after,
            } => {
                write!(
                    f,
                    "crash {} at {at}, restart {restart_after} later",
                    host.name()
                )
            }
            FaultEvent::Drop {
                writer,
                connection,
                after_bytes,
            } => {
                write!(
                    f,
                    "drop {} connection {connection} after {after_bytes} bytes",
                    spelling(writer)
                )
            }
            FaultEvent::DropAtLine {
                writer,
                connection,
                line,
            } => {
                write!(
                    f,
                    "drop {} connection {connection} before {line:?}",
                    spelling(writer)
                )
            }
            FaultEvent::Coalesce {
                writer,
                connection,
                window,
            } => {
                write!(
                    f,
                    "coalesce {} connection {connection} writes within {window}",
                    spelling(writer)
                )
            }
            FaultEvent::Split {
                writer,
                connection,
                max_segment,
            } => {
                write!(
                    f,
                    "split {} connection {connection} writes into <= {max_segment} bytes",
                    spelling(writer)
                )
            }
            FaultEvent::Stall {
                writer,
                connection,
                line,
                duration,
            } => {
                write!(
                    f,
                    "stall {} connection {connection} for {duration} before {line:?}",
                    spelling(writer)
                )
            }
            FaultEvent::ServerReply {
                connection,
                stage,
                reply,
                nth,
            } => {
                let which = nth.map(|n| format!(" #{n}")).unwrap_or_default();
                write!(
                    f,
                    "server session {connection} answers {}{which} with {reply:?}",
                    spelling(stage)
                )
            }
            FaultEvent::ServerDelay {
                connection,
                stage,
                duration,
            } => {
                write!(
                    f,
                    "server session {connection} delays its {} reply by {duration}",
                    spelling(stage)
                )
            }
            FaultEvent::ServerCrashAfterDot {
                connection,
                restart_after,
            } => {
                write!(f, "server session {connection} crashes after queueing, before its 250; restart {restart_after} later")
            }
        }
    }
}

/// A concrete fault plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// The events, in the order drawn.
    #[serde(default, rename = "event")]
    pub events: Vec<FaultEvent>,
}

impl FaultPlan {
    /// The plan as a `[faults]` TOML table that replays it when pasted into a scenario (with
    /// the same seed): preset `none`, the timing knobs of `config`, and every event.
    pub fn to_toml(&self, config: &FaultConfig) -> String {
        #[derive(Serialize)]
        struct Wrapper<'a> {
            faults: Section<'a>,
        }
        #[derive(Serialize)]
        struct Section<'a> {
            profile: &'a str,
            window: Dur,
            latency_max: Dur,
            event: &'a [FaultEvent],
        }
        let section = Section {
            profile: "none",
            window: config.window,
            latency_max: config.latency_max,
            event: &self.events,
        };
        toml::to_string(&Wrapper { faults: section })
            .unwrap_or_else(|e| format!("# cannot write plan: {e}\n"))
    }
}

knobs! {
    /// The knobs of a fault preset: what may go wrong, how likely, and when.
    pub struct FaultConfig / FaultSection {
        /// Faults start within this time from the start; then everything heals.
        pub window: Dur,
        /// Largest one-way latency (0: keep the scenario's).
        pub latency_max: Dur,
        /// Shape of the latency distribution: the exponential's rate λ (larger: more short
        /// delays); 0 means 5.
        pub latency_curve: f64,
        /// Chance per link of a delay spike.
        pub hold_chance: f64,
        /// Longest delay spike.
        pub hold_max: Dur,
        /// Chance per link of a partition (segments lost).
        pub partition_chance: f64,
        /// Longest partition.
        pub partition_max: Dur,
        /// Chance per writer of a dropped connection.
        pub drop_chance: f64,
        /// Chance per writer of split writes.
        pub split_chance: f64,
        /// Chance of a server tempfail (4xx) at a random stage.
        pub tempfail_chance: f64,
        /// Chance of a server permfail (5xx) at a random stage.
        pub permfail_chance: f64,
        /// Chance of a server stall past the client's timeout at a random stage.
        pub stall_chance: f64,
        /// Chance of a server crash between '.' and 250.
        pub crash_after_dot_chance: f64,
        /// Chance of a host crash at a random time.
        pub crash_chance: f64,
        /// Chance per writer of coalesced writes (drawn last, so plans without it are unchanged).
        pub coalesce_chance: f64,
    }
    extra {
        /// An explicit plan: these events are used as well as any the preset draws.
        pub event: Vec<FaultEvent>,
    }
}

impl FaultConfig {
    /// A preset by name.
    pub fn preset(name: &str) -> Result<FaultConfig, String> {
        let none = FaultConfig {
            window: Dur::secs(30),
            latency_max: Dur::default(),
            latency_curve: 0.0,
            hold_chance: 0.0,
            hold_max: Dur::secs(3),
            partition_chance: 0.0,
            partition_max: Dur::secs(30),
            drop_chance: 0.0,
            split_chance: 0.0,
            tempfail_chance: 0.0,
            permfail_chance: 0.0,
            stall_chance: 0.0,
            crash_after_dot_chance: 0.0,
            crash_chance: 0.0,
            coalesce_chance: 0.0,
        };
        let lossy = FaultConfig {
            latency_max: Dur::millis(100),
            hold_chance: 0.3,
            partition_chance: 0.005,
            drop_chance: 0.03,
            split_chance: 0.2,
            ..none.clone()
        };
        let flaky = FaultConfig {
            tempfail_chance: 0.2,
            permfail_chance: 0.05,
            stall_chance: 0.05,
            crash_after_dot_chance: 0.05,
            ..none.clone()
        };
        Ok(match name {
            "none" => none,
            "lossy-network" => lossy,
            "flaky-server" => flaky,
            "chaos" => FaultConfig {
                crash_chance: 0.05,
                ..FaultConfig {
                    latency_max: lossy.latency_max,
                    hold_chance: lossy.hold_chance,
                    partition_chance: lossy.partition_chance,
                    drop_chance: lossy.drop_chance,
                    split_chance: lossy.split_chance,
                    ..flaky
                }
            },
            other => return Err(unknown_preset("fault", other, PRESETS)),
        })
    }

    /// Draws a plan. `interceptor`: whether there is a middlebox (more links and writers).
    pub fn plan(&self, rng: &mut ChaCha8Rng, interceptor: bool) -> FaultPlan {
        let mut events = Vec::new();
        let window = self.window.0.as_millis().max(1) as u64;
        let time = |rng: &mut ChaCha8Rng| Dur::millis(rng.random_range(0..window));
        let upto = |rng: &mut ChaCha8Rng, max: Dur| {
            Dur::millis(rng.random_range(1..=max.0.as_millis().max(1) as u64))
        };
        let links: &[Link] = if interceptor {
            &[Link::ClientSide, Link::ServerSide]
        } else {
            &[Link::ClientSide]
        };
        for &link in links {
            if rng.random_bool(self.hold_chance.clamp(0.0, 1.0)) {
                let at = time(rng);
                events.push(FaultEvent::Hold {
                    link,
                    at,
                    duration: upto(rng, self.hold_max),
                });
            }
            if rng.random_bool(self.partition_chance.clamp(0.0, 1.0)) {
                let at = time(rng);
                events.push(FaultEvent::Partition {
                    link,
                    at,
                    duration: upto(rng, self.partition_max),
                });
            }
        }
        let writers: &[Writer] = if interceptor {
            &[
                Writer::Client,
                Writer::InterceptorToClient,
                Writer::InterceptorToServer,
                Writer::Server,
            ]
        } else {
            &[Writer::Client, Writer::Server]
        };
        for &writer in writers {
            if rng.random_bool(self.drop_chance.clamp(0.0, 1.0)) {
                let after_bytes = rng.random_range(1..400);
                events.push(FaultEvent::Drop {
                    writer,
                    connection: 1,
                    after_bytes,
                });
            }
            if rng.random_bool(self.split_chance.clamp(0.0, 1.0)) {
                let max_segment = rng.random_range(1..=16);
                events.push(FaultEvent::Split {
                    writer,
                    connection: 1,
                    max_segment,
                });
            }
        }
        let stages = ServerStage::ALL;
        if rng.random_bool(self.tempfail_chance.clamp(0.0, 1.0)) {
            let stage = stages[rng.random_range(0..stages.len())];
            let reply = match stage {
                ServerStage::Connect => "421 4.3.2 Service shutting down",
                ServerStage::Dot => "451 4.3.0 Error: queue file write error",
                _ => "451 4.3.5 Server configuration problem",
            };
            events.push(FaultEvent::ServerReply {
                connection: 1,
                stage,
                reply: reply.into(),
                nth: None,
            });
        }
        if rng.random_bool(self.permfail_chance.clamp(0.0, 1.0)) {
            let stage = stages[rng.random_range(1..stages.len())];
            events.push(FaultEvent::ServerReply {
                connection: 1,
                stage,
                reply: "554 5.7.1 Rejected by policy".into(),
                nth: None,
            });
        }
        if rng.random_bool(self.stall_chance.clamp(0.0, 1.0)) {
            let stage = stages[rng.random_range(0..stages.len())];
            events.push(FaultEvent::ServerDelay {
                connection: 1,
                stage,
                duration: Dur::secs(rng.random_range(60..700)),
            });
        }
        if rng.random_bool(self.crash_after_dot_chance.clamp(0.0, 1.0)) {
            events.push(FaultEvent::ServerCrashAfterDot {
                connection: 1,
                restart_after: Dur::secs(rng.random_range(1..60)),
            });
        }
        if rng.random_bool(self.crash_chance.clamp(0.0, 1.0)) {
            let host = if interceptor && rng.random_bool(0.5) {
                Host::Interceptor
            } else {
                Host::Server
            };
            let at = time(rng);
            events.push(FaultEvent::Crash {
                host,
                at,
                restart_after: Dur::secs(rng.random_range(1..60)),
            });
        }
        if self.coalesce_chance > 0.0 {
            for &writer in writers {
                if rng.random_bool(self.coalesce_chance.clamp(0.0, 1.0)) {
                    let window = Dur::millis(rng.random_range(5..200));
                    events.push(FaultEvent::Coalesce {
                        writer,
                        connection: 1,
                        window,
                    });
                }
            }
        }
        FaultPlan { events }
    }
}
