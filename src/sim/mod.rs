//! Scenario + seed → a turmoil world with client, optional interceptor and server hosts →
//! transcript, outcomes and the oracle's report. One seed decides everything: turmoil's RNG,
//! the epoch, and every draw of ours (from one ChaCha stream).

use crate::actor::{self, Recorded};
use crate::net;
use crate::oracle::{self, Report};
use crate::proto::client::{ClientSession, Message, Outcome, Stage, Status};
use crate::proto::interceptor::InterceptorSession;
use crate::proto::server::{Delivery, ServerSession};
use crate::scenario::Scenario;
use crate::transcript::{Event, EventKind, Transcript};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;
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

/// Runs `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> Result<RunResult, SimError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let queue_salt = rng.next_u64();
    let net_cfg = &scenario.network;
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tick_duration(net_cfg.tick.0)
        .simulation_duration(net_cfg.time_limit.0 + Duration::from_secs(3600))
        .min_message_latency(net_cfg.latency_min.0)
        .max_message_latency(net_cfg.latency_max.0)
        .tcp_capacity(4096)
        .build();

    let transcript = Transcript::new();
    let deliveries: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let open_sessions = Arc::new(AtomicUsize::new(0));

    // The server host.
    {
        let cfg = Arc::new(scenario.server.clone());
        let transcript = transcript.clone();
        let deliveries = deliveries.clone();
        let open = open_sessions.clone();
        sim.host("server", move || {
            let (cfg, transcript, deliveries, open) = (
                cfg.clone(),
                transcript.clone(),
                deliveries.clone(),
                open.clone(),
            );
            async move {
                let listener = net::sim_listen(SMTP_PORT).await?;
                let mut accepted = 0u64;
                loop {
                    let (stream, peer) = listener.accept().await?;
                    accepted += 1;
                    let local = stream.local_addr()?;
                    let peer_role = if peer.ip() == local.ip() {
                        "server"
                    } else {
                        role_of_peer(&peer)
                    };
                    let conn = transcript.conn_for(local, peer);
                    transcript.record(net::now(), conn, peer_role, "server", EventKind::Connect);
                    let stream =
                        Recorded::new(stream, transcript.clone(), conn, "server", peer_role);
                    let session = ServerSession::new(
                        cfg.clone(),
                        &peer.ip().to_string(),
                        net::now(),
                        queue_salt ^ accepted,
                    );
                    let sink_store = deliveries.clone();
                    let sink: actor::server::DeliverySink = Arc::new(move |d: &Delivery| {
                        sink_store.lock().expect("deliveries").push(d.clone())
                    });
                    open.fetch_add(1, Ordering::SeqCst);
                    let open = open.clone();
                    tokio::spawn(async move {
                        actor::server::serve(stream, session, sink).await;
                        open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            }
        });
    }

    // The interceptor host, if any.
    if let Some((_, cfg)) = &scenario.interceptor {
        let cfg = Arc::new(cfg.clone());
        let transcript = transcript.clone();
        let open = open_sessions.clone();
        sim.host("interceptor", move || {
            let (cfg, transcript, open) = (cfg.clone(), transcript.clone(), open.clone());
            async move {
                let listener = net::sim_listen(SMTP_PORT).await?;
                loop {
                    let (downstream, peer) = listener.accept().await?;
                    let conn = transcript.conn_for(downstream.local_addr()?, peer);
                    transcript.record(
                        net::now(),
                        conn,
                        "client",
                        "interceptor",
                        EventKind::Connect,
                    );
                    let client_side = Recorded::new(
                        downstream,
                        transcript.clone(),
                        conn,
                        "interceptor",
                        "client",
                    );
                    let (cfg, transcript, open) = (cfg.clone(), transcript.clone(), open.clone());
                    open.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        match net::sim_connect("server", SMTP_PORT).await {
                            Ok(upstream) => {
                                let up_conn = match (upstream.local_addr(), upstream.peer_addr()) {
                                    (Ok(l), Ok(p)) => transcript.conn_for(l, p),
                                    _ => transcript.new_conn(),
                                };
                                let server_side = Recorded::new(
                                    upstream,
                                    transcript.clone(),
                                    up_conn,
                                    "interceptor",
                                    "server",
                                );
                                let session = InterceptorSession::new(cfg, net::now());
                                actor::interceptor::intercept(client_side, server_side, session)
                                    .await;
                            }
                            Err(e) => {
                                transcript.record(
                                    net::now(),
                                    0,
                                    "interceptor",
                                    "server",
                                    EventKind::ConnectFailed(e.to_string()),
                                );
                                let mut client_side = client_side;
                                let _ = tokio::io::AsyncWriteExt::shutdown(&mut client_side).await;
                            }
                        }
                        open.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            }
        });
    }

    // The client.
    let outcomes: Arc<Mutex<Vec<(u32, Outcome)>>> = Arc::default();
    {
        let cfg = Arc::new(scenario.client.clone());
        let messages = scenario.messages.clone();
        let target = if scenario.interceptor.is_some() {
            "interceptor"
        } else {
            "server"
        };
        let transcript = transcript.clone();
        let outcomes = outcomes.clone();
        sim.client("client", async move {
            run_client(cfg, messages, target, transcript, outcomes).await;
            Ok(())
        });
    }

    // Step until the client is done and every server-side session has ended.
    let limit = net_cfg.time_limit.0;
    let mut client_done = false;
    loop {
        match sim.step() {
            Ok(done) => client_done |= done,
            Err(e) => return Err(SimError(format!("simulation failed: {e}"))),
        }
        if client_done && open_sessions.load(Ordering::SeqCst) == 0 {
            break;
        }
        if sim.elapsed() >= limit {
            transcript.record(
                sim.elapsed(),
                0,
                "smtpsim",
                "",
                EventKind::Note(format!("time limit {} reached", crate::profile::Dur(limit))),
            );
            break;
        }
    }
    let elapsed = sim.elapsed();
    drop(sim);

    let events = transcript.events();
    let outcomes: Vec<(u32, Outcome)> = outcomes.lock().expect("outcomes").clone();
    let deliveries = deliveries.lock().expect("deliveries").clone();
    let notes_by_conn = interceptor_notes_by_conn(&events);
    let per_message: Vec<Vec<String>> = scenario
        .messages
        .iter()
        .map(|m| {
            outcomes
                .iter()
                .filter(|(_, o)| o.id == m.id)
                .flat_map(|(conn, _)| {
                    notes_by_conn
                        .iter()
                        .filter(move |(c, _)| c == conn)
                        .flat_map(|(_, n)| n.clone())
                })
                .collect()
        })
        .collect();
    let plain: Vec<Outcome> = outcomes.iter().map(|(_, o)| o.clone()).collect();
    let report = oracle::judge(&scenario.messages, &plain, &deliveries, &per_message);
    let header = header(scenario, seed);
    Ok(RunResult {
        scenario: scenario.name.clone(),
        seed,
        events,
        outcomes: plain,
        deliveries,
        report,
        elapsed,
        header,
    })
}

/// Which simulated host an address belongs to (hosts get 192.168.0.x in registration order).
fn role_of_peer(peer: &std::net::SocketAddr) -> &'static str {
    match turmoil::reverse_lookup(peer.ip()).as_deref() {
        Some("interceptor") => "interceptor",
        Some("server") => "server",
        _ => "client",
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

/// The client actor: one connection after another until every message has an outcome.
async fn run_client(
    cfg: Arc<crate::profile::ClientConfig>,
    messages: Vec<Message>,
    target: &'static str,
    transcript: Transcript,
    outcomes: Arc<Mutex<Vec<(u32, Outcome)>>>,
) {
    let all = messages.clone();
    let mut queue = messages;
    while !queue.is_empty() {
        net::sleep_until(queue[0].at).await;
        let connect =
            tokio::time::timeout(cfg.timeout_connect.0, net::sim_connect(target, SMTP_PORT)).await;
        let stream = match connect {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                transcript.record(
                    net::now(),
                    0,
                    "client",
                    target,
                    EventKind::ConnectFailed(e.to_string()),
                );
                return defer_all(&outcomes, queue, &format!("connect failed: {e}"));
            }
            Err(_) => {
                transcript.record(
                    net::now(),
                    0,
                    "client",
                    target,
                    EventKind::ConnectFailed("timeout".into()),
                );
                return defer_all(&outcomes, queue, "connect timed out");
            }
        };
        let conn = match (stream.local_addr(), stream.peer_addr()) {
            (Ok(l), Ok(p)) => transcript.conn_for(l, p),
            _ => transcript.new_conn(),
        };
        let stream = Recorded::new(stream, transcript.clone(), conn, "client", target);
        let session = ClientSession::new(cfg.clone(), std::mem::take(&mut queue), net::now());
        let results = actor::client::drive(stream, session).await;
        let mut retry = Vec::new();
        for outcome in results {
            if outcome.status == Status::NotAttempted
                && outcome.reply.is_none()
                && outcome.reason.is_none()
            {
                // The connection ended cleanly before this message's turn (no reuse, or out
                // of time): it goes on the next connection.
                retry.push(all[outcome.id].clone());
                continue;
            }
            outcomes.lock().expect("outcomes").push((conn, outcome));
        }
        queue = retry;
    }
}

fn defer_all(outcomes: &Arc<Mutex<Vec<(u32, Outcome)>>>, queue: Vec<Message>, reason: &str) {
    let mut outcomes = outcomes.lock().expect("outcomes");
    for m in queue {
        outcomes.push((
            0,
            Outcome {
                id: m.id,
                status: Status::Deferred,
                stage: Stage::Connect,
                reply: None,
                reason: Some(reason.to_string()),
                refused: Vec::new(),
                in_sync_gap: false,
            },
        ));
    }
}

/// The transcript header: everything the seed decided.
pub fn header(scenario: &Scenario, seed: u64) -> Vec<String> {
    let n = &scenario.network;
    let interceptor = scenario
        .interceptor
        .as_ref()
        .map_or("none".to_string(), |(name, _)| name.clone());
    vec![
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
            "network: latency {}..{} per segment, tick {}; faults: {}",
            crate::profile::Dur(n.latency_min.0),
            crate::profile::Dur(n.latency_max.0),
            crate::profile::Dur(n.tick.0),
            scenario.faults
        ),
        format!("replay: smtpsim run <scenario> --seed {seed}"),
    ]
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
