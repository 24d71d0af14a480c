//! Scenario + seed → a turmoil world with client, optional interceptor and server hosts →
//! transcript, outcomes and the oracle's report. One seed decides everything: turmoil's RNG,
//! the epoch, and every draw of ours (from one ChaCha stream).

mod client;
pub mod faults;
mod hosts;

use crate::actor::Recorded;
use crate::fault::{FaultPlan, Host};
use crate::net;
use crate::oracle::{self, Report};
use crate::profile::Dur;
use crate::proto::client::Outcome;
use crate::proto::server::Delivery;
use crate::scenario::Scenario;
use crate::transcript::{Event, EventKind, Transcript};
use faults::{FaultState, NetAction};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

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
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(FAULT_STREAM);
    let mut plan = scenario
        .fault_config
        .plan(&mut rng, scenario.interceptor.is_some());
    plan.events.extend(scenario.fault_events.iter().cloned());
    plan
}

/// The RNG stream for fault plans, apart from the stream for everything else.
const FAULT_STREAM: u64 = 1;

/// A client supplied by the caller (a third-party SMTP library, say): it gets the connection
/// to the first hop, already wrapped so that its bytes land in the transcript, and returns an
/// outcome per scenario message (by id) for the oracle.
pub type CustomClient =
    Box<dyn FnOnce(Recorded<net::SimStream>) -> Pin<Box<dyn Future<Output = Vec<Outcome>>>>>;

/// Runs `scenario` with `seed` (and the seed's fault plan), with `client` in place of the
/// scenario's client profile.
pub fn run_custom(
    scenario: &Scenario,
    seed: u64,
    client: CustomClient,
) -> Result<RunResult, SimError> {
    run_inner(scenario, seed, plan_for(scenario, seed), Some(client))
}

/// Runs `scenario` with `seed` and exactly this fault plan (what `shrink` replays).
pub fn run_with_plan(
    scenario: &Scenario,
    seed: u64,
    plan: FaultPlan,
) -> Result<RunResult, SimError> {
    run_inner(scenario, seed, plan, None)
}

fn run_inner(
    scenario: &Scenario,
    seed: u64,
    plan: FaultPlan,
    custom: Option<CustomClient>,
) -> Result<RunResult, SimError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let queue_salt = rng.next_u64();
    let net_cfg = &scenario.network;
    let fc = &scenario.fault_config;
    let tick = if fc.tick.0.is_zero() {
        net_cfg.tick.0
    } else {
        fc.tick.0
    };
    let latency_max = if fc.latency_max.0.is_zero() {
        net_cfg.latency_max.0
    } else {
        fc.latency_max.0
    };
    let latency_min = net_cfg.latency_min.0.min(latency_max);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tick_duration(tick)
        .simulation_duration(net_cfg.time_limit.0 + Duration::from_secs(3600))
        .min_message_latency(latency_min)
        .max_message_latency(latency_max)
        .tcp_capacity(4096)
        .build();

    if fc.latency_curve > 0.0 {
        sim.set_message_latency_curve(fc.latency_curve);
    }
    let interceptor = scenario.interceptor.is_some();
    let heal_at = if plan.events.is_empty() {
        Duration::ZERO
    } else {
        fc.window.0
    };
    let faults = FaultState::new(plan.clone(), heal_at);
    let transcript = Transcript::new();
    let deliveries: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let open_sessions = Arc::new(AtomicUsize::new(0));

    hosts::add_server(
        &mut sim,
        scenario,
        queue_salt,
        &transcript,
        &deliveries,
        &open_sessions,
        &faults,
    );
    if let Some((_, cfg)) = &scenario.interceptor {
        hosts::add_interceptor(&mut sim, cfg, &transcript, &open_sessions, &faults);
    }
    let outcomes: client::Outcomes = Arc::default();
    {
        let cfg = Arc::new(scenario.client.clone());
        let messages = scenario.messages.clone();
        let target = if interceptor { "interceptor" } else { "server" };
        let (transcript, outcomes, faults) = (transcript.clone(), outcomes.clone(), faults.clone());
        let script = scenario.script.clone();
        sim.client("client", async move {
            if let Some(custom) = custom {
                client::run_custom(custom, target, transcript, outcomes, faults).await;
            } else if script.is_empty() {
                client::run(cfg, messages, target, transcript, outcomes, faults).await;
            } else {
                client::run_script(script, target, transcript, outcomes, faults).await;
            }
            Ok(())
        });
    }

    // Step until the client is done and the other sessions have ended (or the drain time
    // is up), carrying out the network schedule and crash requests on the way.
    let mut schedule: VecDeque<(Duration, NetAction)> =
        faults::schedule(&plan, interceptor, heal_at).into();
    let mut crashed: Vec<&'static str> = Vec::new();
    let mut pending_bounces: Vec<(Duration, &'static str)> = Vec::new();
    let limit = net_cfg.time_limit.0;
    let mut client_done_at: Option<Duration> = None;
    loop {
        let now = sim.elapsed();
        while schedule.front().is_some_and(|(t, _)| *t <= now) {
            let (_, action) = schedule.pop_front().expect("checked");
            apply(
                &mut sim,
                &transcript,
                now,
                action,
                &mut crashed,
                interceptor,
            );
        }
        let requests: Vec<(Host, Duration)> = faults
            .crash_requests
            .lock()
            .expect("crash requests")
            .drain(..)
            .collect();
        for (host, restart_after) in requests {
            apply(
                &mut sim,
                &transcript,
                now,
                NetAction::Crash(host.name()),
                &mut crashed,
                interceptor,
            );
            pending_bounces.push((now + restart_after, host.name()));
        }
        pending_bounces.retain(|(t, host)| {
            if *t <= now {
                if crashed.contains(host) {
                    sim.bounce(*host);
                    crashed.retain(|h| h != host);
                    transcript.record(now, 0, host, "", EventKind::Note("fault: restarted".into()));
                }
                false
            } else {
                true
            }
        });
        match sim.step() {
            Ok(true) => {
                client_done_at.get_or_insert(sim.elapsed());
            }
            Ok(false) => {}
            Err(e) => return Err(SimError(format!("simulation failed: {e}"))),
        }
        if let Some(done) = client_done_at {
            let drained = open_sessions.load(Ordering::SeqCst) == 0;
            if drained || sim.elapsed() >= done + net_cfg.drain.0 {
                break;
            }
        }
        if sim.elapsed() >= limit {
            transcript.record(
                sim.elapsed(),
                0,
                "smtpsim",
                "",
                EventKind::Note(format!("time limit {} reached", Dur(limit))),
            );
            break;
        }
    }
    let elapsed = sim.elapsed();
    drop(sim);

    let events = transcript.events();
    let endpoints = transcript.endpoints();
    let outcomes: Vec<(u32, Outcome)> = outcomes.lock().expect("outcomes").clone();
    let deliveries = deliveries.lock().expect("deliveries").clone();
    let notes_by_conn = interceptor_notes_by_conn(&events);
    let per_message: Vec<Vec<String>> = scenario
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
        .collect();
    let plain: Vec<Outcome> = outcomes.iter().map(|(_, o)| o.clone()).collect();
    let retrying = scenario.client.retries > 0;
    let report = oracle::judge(
        &scenario.messages,
        &plain,
        &deliveries,
        &per_message,
        retrying,
    );
    let header = header(scenario, seed, &plan, tick, latency_min, latency_max);
    Ok(RunResult {
        scenario: scenario.name.clone(),
        seed,
        events,
        outcomes: plain,
        deliveries,
        report,
        elapsed,
        header,
        plan,
        endpoints,
    })
}

/// Carries out one network action.
fn apply(
    sim: &mut turmoil::Sim<'_>,
    transcript: &Transcript,
    now: Duration,
    action: NetAction,
    crashed: &mut Vec<&'static str>,
    interceptor: bool,
) {
    let note = |text: String| transcript.record(now, 0, "network", "", EventKind::Note(text));
    match action {
        NetAction::Hold(a, b) => {
            sim.hold(a, b);
            note(format!("fault: {a}<->{b} segments held"));
        }
        NetAction::Release(a, b) => {
            sim.release(a, b);
            note(format!("fault: {a}<->{b} held segments released"));
        }
        NetAction::Partition(a, b) => {
            sim.partition(a, b);
            note(format!("fault: {a}<->{b} partitioned (segments lost)"));
        }
        NetAction::Repair(a, b) => {
            sim.repair(a, b);
            note(format!("fault: {a}<->{b} repaired"));
        }
        NetAction::Crash(host) => {
            if !crashed.contains(&host) {
                sim.crash(host);
                crashed.push(host);
                note(format!("fault: {host} crashed"));
            }
        }
        NetAction::Bounce(host) => {
            if crashed.contains(&host) {
                sim.bounce(host);
                crashed.retain(|h| *h != host);
                note(format!("fault: {host} restarted"));
            }
        }
        NetAction::Heal => {
            let links: &[(&str, &str)] = if interceptor {
                &[("client", "interceptor"), ("interceptor", "server")]
            } else {
                &[("client", "server")]
            };
            for (a, b) in links {
                sim.release(*a, *b);
                sim.repair(*a, *b);
            }
            for host in std::mem::take(crashed) {
                sim.bounce(host);
            }
            note(
                "faults healed: links repaired, held segments released, crashed hosts restarted"
                    .into(),
            );
        }
    }
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
    tick: Duration,
    latency_min: Duration,
    latency_max: Duration,
) -> Vec<String> {
    let interceptor = scenario
        .interceptor
        .as_ref()
        .map_or("none".to_string(), |(name, _)| name.clone());
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
            scenario.client_profile, interceptor, scenario.server_profile, scenario.server.hostname
        ),
        format!(
            "network: latency {}..{} per segment, tick {}",
            Dur(latency_min),
            Dur(latency_max),
            Dur(tick)
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
    let faults_flag = if scenario.faults == "none" {
        String::new()
    } else {
        format!(" --faults {}", scenario.faults)
    };
    lines.push(format!(
        "replay: smtpsim run <scenario> --seed {seed}{faults_flag}"
    ));
    lines
}

/// The full text transcript: header, events, verdicts.
pub fn render_text(result: &RunResult) -> String {
    let mut out = String::new();
    for line in &result.header {
        out.push_str(&format!("# {line}\n"));
    }
    out.push('\n');
    out.push_str(&crate::transcript::render_events(&result.events));
    out.push('\n');
    out.push_str(&oracle::render(&result.report));
    out
}
