//! Scenario + seed → a simulated world (the event-driven [`engine`] on turmoil-net) with
//! client, optional interceptor and server hosts → transcript, outcomes and the oracle's
//! report. One seed decides everything: every draw comes from ChaCha streams of that seed.

pub mod byo;
mod client;
mod director;
pub mod engine;
pub mod faults;
mod hosts;
mod mutant;
pub mod network;
mod retx_watch;
pub mod stream;
pub mod tls;

use crate::actor::TlsSetup;
use crate::dkim::Dkim;
use crate::fault::FaultPlan;
use crate::fault::FaultState;
use crate::oracle::{self, Report};
use crate::profile::Dur;
use crate::proto::client::Outcome;
use crate::proto::server::Delivery;
use crate::scenario::Scenario;
use crate::seeds::{self, Stream};
use crate::transcript::{Event, EventKind, Transcript};
use director::Director;
use engine::{Engine, EngineStats, Software, TcpTiming};
pub use mutant::Mutant;
use network::{Captured, Latency, Network};
use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The SMTP port every simulated host listens on.
pub const SMTP_PORT: u16 = 25;
/// The fixed epoch of every simulation: 2026-01-01T00:00:00Z.
pub const EPOCH_SECS: u64 = 1_767_225_600;

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// The client's outcome per message (last one wins when a message was tried twice).
    pub outcomes: Vec<Outcome>,
    /// Every message the server accepted.
    pub deliveries: Vec<Delivery>,
    /// The oracle's verdicts.
    pub report: Report,
    /// Virtual time the run took.
    pub elapsed: Duration,
    /// The header lines (configuration decided by the seed).
    pub header: Vec<String>,
    /// The fault plan that ran.
    pub plan: FaultPlan,
    /// Each connection's (initiator, acceptor) simulated addresses.
    pub endpoints: std::collections::BTreeMap<u32, (String, String)>,
    /// Every packet that left a host, when the run was captured ([`run_captured`]).
    pub packets: Vec<Captured>,
    /// What the engine did (turns, egress passes).
    pub engine: EngineStats,
    /// The run's TLS session secrets as SSLKEYLOGFILE lines (`run --keylog`).
    pub keylog: Vec<String>,
}

/// A run that could not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError(pub String);

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimError {}

/// Runs `scenario` with `seed`: the fault plan is drawn from the seed (plus the scenario's
/// explicit events).
pub fn run(scenario: &Scenario, seed: u64) -> Result<RunResult, SimError> {
    run_with_plan(scenario, seed, plan_for(scenario, seed))
}

/// The fault plan `seed` draws for `scenario`, followed by the scenario's explicit events.
pub fn plan_for(scenario: &Scenario, seed: u64) -> FaultPlan {
    plan_drawn(scenario, seed, scenario.interceptor.is_some())
}

/// The fault plan of `seed`; `interceptor`: whether the world has a middlebox (the
/// scenario's, or the user's own).
pub(crate) fn plan_drawn(scenario: &Scenario, seed: u64, interceptor: bool) -> FaultPlan {
    let mut rng = seeds::rng(seed, Stream::Faults);
    let mut plan = scenario.fault_config.plan(&mut rng, interceptor);
    plan.events.extend(scenario.fault_events.iter().cloned());
    plan
}

/// Runs `scenario` with `seed` and exactly this fault plan (what `shrink` replays).
pub fn run_with_plan(
    scenario: &Scenario,
    seed: u64,
    plan: FaultPlan,
) -> Result<RunResult, SimError> {
    run_engine(scenario, seed, plan, &byo::Cast::default(), false, None)
}

/// Runs the world `cast` makes of `scenario` (some roles the user's code) with `seed` and
/// exactly this fault plan.
pub(crate) fn run_cast(
    scenario: &Scenario,
    seed: u64,
    plan: FaultPlan,
    cast: &byo::Cast,
    capture: bool,
) -> Result<RunResult, SimError> {
    run_engine(scenario, seed, plan, cast, capture, None)
}

/// Runs `scenario` with `seed` and one deliberately broken actor (see [`Mutant`]): the
/// oracle's own test.
pub fn run_mutant(scenario: &Scenario, seed: u64, mutant: Mutant) -> Result<RunResult, SimError> {
    run_engine(
        scenario,
        seed,
        plan_for(scenario, seed),
        &byo::Cast::default(),
        false,
        Some(mutant),
    )
}

/// Runs `scenario` with `seed` and keeps every packet that left a host (for pcap).
pub fn run_captured(scenario: &Scenario, seed: u64) -> Result<RunResult, SimError> {
    let cast = byo::Cast::default();
    run_engine(scenario, seed, plan_for(scenario, seed), &cast, true, None)
}

/// The network a scenario describes, with latencies drawn from the seed's network stream.
fn network_for(scenario: &Scenario, seed: u64) -> Network {
    let fc = &scenario.fault_config;
    let latency_max = if fc.latency_max.0.is_zero() {
        scenario.network.latency_max.0
    } else {
        fc.latency_max.0
    };
    Network::new(
        seeds::rng(seed, Stream::Network),
        Latency {
            min: scenario.network.latency_min.0.min(latency_max),
            max: latency_max,
            curve: fc.latency_curve,
        },
    )
}

fn run_engine(
    scenario: &Scenario,
    seed: u64,
    plan: FaultPlan,
    cast: &byo::Cast,
    capture: bool,
    mutant: Option<Mutant>,
) -> Result<RunResult, SimError> {
    byo::take_panics();
    let mut network = network_for(scenario, seed);
    if capture {
        network = network.capture();
    }
    let latency = network.latency();
    let timing = TcpTiming {
        rto: scenario.network.rto.0,
        retries: scenario.network.tcp_retries,
    };
    let heal_at = if plan.events.is_empty() {
        Duration::ZERO
    } else {
        scenario.fault_config.window.0
    };
    let shared = Shared {
        transcript: Transcript::new(),
        deliveries: Arc::default(),
        open_sessions: Arc::default(),
        outcomes: Arc::default(),
        client_done: Rc::default(),
        stuck_at: Rc::default(),
        faults: FaultState::new(plan.clone(), heal_at),
        mutant,
        messages: if cast.client.is_some() || !scenario.script.is_empty() {
            scenario.messages.clone()
        } else {
            sent_messages(scenario, seed)
        },
    };
    let mut engine = Engine::new(network, timing);
    let run_tls = Arc::new(tls::RunTls::new(scenario, seed));
    add_hosts(&mut engine, scenario, seed, &shared, &run_tls, cast);
    let mut director = Director::new(scenario, &plan, heal_at, &shared);
    let (elapsed, mut network, engine_stats) = engine.run(|world| director.turn(world));
    let keylog = run_tls.finish();
    let mut result = judge(scenario, seed, &shared, cast);
    result.keylog = keylog;
    result.header = header_for(scenario, seed, &plan, (latency, timing), cast);
    result.elapsed = elapsed;
    result.plan = plan;
    result.packets = network.captured();
    result.engine = engine_stats;
    Ok(result)
}

/// What the hosts of one run and its director share.
pub(crate) struct Shared {
    pub(crate) transcript: Transcript,
    pub(crate) deliveries: Arc<Mutex<Vec<Delivery>>>,
    pub(crate) open_sessions: Arc<AtomicUsize>,
    pub(crate) outcomes: client::Outcomes,
    pub(crate) client_done: Rc<Cell<bool>>,
    /// The run reached its time limit before the client was done (set by the director).
    pub(crate) stuck_at: Rc<Cell<Option<Duration>>>,
    pub(crate) faults: Arc<FaultState>,
    /// A deliberately broken actor (the oracle's own test), if any.
    pub(crate) mutant: Option<Mutant>,
    /// The scenario's messages as the client sends them (what the oracle compares with).
    pub(crate) messages: Vec<crate::proto::client::Message>,
}

/// The server, the interceptor (if any) and the client, in that order (their addresses).
fn add_hosts(
    engine: &mut Engine,
    scenario: &Scenario,
    seed: u64,
    shared: &Shared,
    run_tls: &tls::RunTls,
    cast: &byo::Cast,
) {
    let server = match &cast.server {
        Some((_, factory)) => byo::server_host(factory.clone(), shared),
        None => hosts::server(scenario, seeds::queue_salt(seed), shared, &run_tls.server),
    };
    engine.host("server", server);
    let target = match (&cast.interceptor, &scenario.interceptor) {
        (Some((_, factory)), _) => {
            engine.host(
                "interceptor",
                byo::interceptor_host(factory.clone(), shared),
            );
            "interceptor"
        }
        (None, Some((_, cfg))) => {
            engine.host(
                "interceptor",
                hosts::interceptor(cfg, shared, &run_tls.interceptor),
            );
            "interceptor"
        }
        (None, None) => "server",
    };
    let client = match &cast.client {
        Some((_, factory)) => byo::client_host(factory.clone(), target, shared),
        None => client_host(scenario, shared, run_tls.client.clone(), target),
    };
    engine.host("client", client);
}

/// The client host's software: the scenario's client profile or its script, connecting to
/// `target`.
fn client_host(
    scenario: &Scenario,
    shared: &Shared,
    tls: TlsSetup,
    target: &'static str,
) -> Software {
    let cfg = Arc::new(scenario.client.clone());
    let messages = shared.messages.clone();
    let (transcript, outcomes, faults) = (
        shared.transcript.clone(),
        shared.outcomes.clone(),
        shared.faults.clone(),
    );
    let script = scenario.script.clone();
    let done = shared.client_done.clone();
    let forget_refused = shared.mutant == Some(Mutant::ForgetRefusedRecipient);
    Rc::new(move || {
        let (cfg, messages, script, done, tls) = (
            cfg.clone(),
            messages.clone(),
            script.clone(),
            done.clone(),
            tls.clone(),
        );
        let (transcript, outcomes, faults) = (transcript.clone(), outcomes.clone(), faults.clone());
        Box::pin(async move {
            if script.is_empty() {
                let world = (transcript, outcomes, faults, tls);
                client::run(cfg, messages, target, world, forget_refused).await;
            } else {
                client::run_script(script, target, transcript, outcomes, faults, tls).await;
            }
            done.set(true);
        })
    })
}

/// The oracle's report on what the run's hosts recorded (header, times and packets are the
/// caller's to fill in).
fn judge(scenario: &Scenario, seed: u64, shared: &Shared, cast: &byo::Cast) -> RunResult {
    let events = shared.transcript.events();
    let outcomes: Vec<(u32, Outcome)> = shared.outcomes.lock().expect("outcomes").clone();
    let deliveries = shared.deliveries.lock().expect("deliveries").clone();
    let per_message = interceptor_notes_per_message(scenario, &events, &outcomes);
    let plain: Vec<Outcome> = outcomes.iter().map(|(_, o)| o.clone()).collect();
    // The user's client is judged by what it told the oracle, not by a profile's knobs.
    let (retrying, tls) = match cast.client {
        Some(_) => (false, crate::proto::client::TlsPolicy::None),
        None => (scenario.client.has_queue(), scenario.client.tls),
    };
    let mut report = oracle::judge(
        &shared.messages,
        &plain,
        &deliveries,
        &per_message,
        retrying,
    );
    oracle::judge_tls(&mut report, &events, tls);
    if let Some(section) = &scenario.dkim {
        let dkim = Dkim::new(section, seed);
        oracle::judge_dkim(&mut report, &dkim, &shared.messages, &deliveries);
    }
    if let Some(at) = shared.stuck_at.get() {
        report.violations.push(oracle::stuck(at, &events));
    }
    for panic in byo::take_panics() {
        report.violations.push(oracle::Violation {
            message: None,
            invariant: "own-code-panic",
            detail: panic,
        });
    }
    RunResult {
        scenario: scenario.name.clone(),
        seed,
        endpoints: shared.transcript.endpoints(),
        events,
        outcomes: plain,
        deliveries,
        report,
        elapsed: Duration::ZERO,
        header: Vec::new(),
        plan: FaultPlan::default(),
        packets: Vec::new(),
        engine: EngineStats::default(),
        keylog: Vec::new(),
    }
}

/// The scenario's messages as its client profile sends them: with the headers the profile
/// adds (ssmtp's `Received:`, say), dated by the simulation's clock when each is handed over,
/// and signed with the run's DKIM key when the scenario has `[dkim]` (a message that cannot be
/// signed goes unsigned; the report says so). A live run of a client profile (the
/// interceptor differential's) sends these too.
pub fn sent_messages(scenario: &Scenario, seed: u64) -> Vec<crate::proto::client::Message> {
    let cfg = &scenario.client;
    let dkim = scenario.dkim.as_ref().map(|d| Dkim::new(d, seed));
    scenario
        .messages
        .iter()
        .map(|m| {
            let at = EPOCH_SECS + m.at.as_secs();
            let body = crate::proto::stamp::stamped(cfg.stamp, m, &cfg.helo_name, at);
            let body = match &dkim {
                Some(dkim) => dkim
                    .sign(&crate::proto::data::canonical(&body), at)
                    .unwrap_or(body),
                None => body,
            };
            crate::proto::client::Message { body, ..m.clone() }
        })
        .collect()
}

/// Per scenario message, the interceptor's notes on the connections it went over.
fn interceptor_notes_per_message(
    scenario: &Scenario,
    events: &[Event],
    outcomes: &[(u32, Outcome)],
) -> Vec<Vec<String>> {
    let notes_by_conn = interceptor_notes_by_conn(events);
    scenario
        .messages
        .iter()
        .map(|m| {
            let mut conns: Vec<u32> = outcomes
                .iter()
                .filter(|(_, o)| o.id == m.id)
                .map(|(c, _)| *c)
                .collect();
            conns.dedup();
            conns
                .iter()
                .flat_map(|conn| {
                    notes_by_conn
                        .iter()
                        .filter(move |(c, _)| c == conn)
                        .flat_map(|(_, n)| n.clone())
                })
                .collect()
        })
        .collect()
}

fn interceptor_notes_by_conn(events: &[Event]) -> Vec<(u32, Vec<String>)> {
    let mut by_conn: Vec<(u32, Vec<String>)> = Vec::new();
    for e in events {
        if let EventKind::Note(text) = &e.kind {
            if e.from == "interceptor" {
                match by_conn.iter_mut().find(|(c, _)| *c == e.conn) {
                    Some((_, notes)) => notes.push(text.clone()),
                    None => by_conn.push((e.conn, vec![text.clone()])),
                }
            }
        }
    }
    by_conn
}

/// The transcript header: everything the seed decided.
pub fn header(
    scenario: &Scenario,
    seed: u64,
    plan: &FaultPlan,
    latency: Latency,
    timing: TcpTiming,
) -> Vec<String> {
    header_for(
        scenario,
        seed,
        plan,
        (latency, timing),
        &byo::Cast::default(),
    )
}

/// The header of a world `cast` made of `scenario`: it names the user's roles and replays
/// with the world's Rust call.
fn header_for(
    scenario: &Scenario,
    seed: u64,
    plan: &FaultPlan,
    (latency, timing): (Latency, TcpTiming),
    cast: &byo::Cast,
) -> Vec<String> {
    let preset = scenario
        .interceptor
        .as_ref()
        .map_or("none".to_string(), |(name, _)| name.clone());
    let interceptor = byo::Cast::name(&cast.interceptor, &preset);
    let client = byo::Cast::name(&cast.client, &scenario.client_profile);
    let server = byo::Cast::name(&cast.server, &scenario.server_profile);
    let mut lines = vec![
        format!(
            "smtpsim {} · scenario {} · seed {}",
            env!("CARGO_PKG_VERSION"),
            scenario.name,
            seed
        ),
        format!("about: {}", scenario.about),
        format!(
            "actors: client={} interceptor={} server={} ({})",
            client, interceptor, server, scenario.server.hostname
        ),
        format!(
            "network: latency {}..{} per segment, TCP retransmits after {}, gives up after {}",
            Dur(latency.min),
            Dur(latency.max),
            Dur(timing.rto),
            Dur(timing.give_up())
        ),
    ];
    if plan.events.is_empty() {
        lines.push(format!("faults: {} (no events)", scenario.faults));
    } else {
        lines.push(format!(
            "faults: {}, {} events, healed at {}",
            scenario.faults,
            plan.events.len(),
            Dur(scenario.fault_config.window.0)
        ));
        for event in &plan.events {
            lines.push(format!("  fault: {event}"));
        }
    }
    let replay = match &cast.replay {
        Some(world) => seeds::replay_call(world, seed),
        None => seeds::replay_command("<scenario>", seed, &scenario.faults),
    };
    lines.push(format!("replay: {replay}"));
    lines
}
