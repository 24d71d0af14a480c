//! Applying a fault plan inside a run: which connection gets which transport fault, which
//! server session gets which application fault, and the timed network schedule that the
//! step loop carries out through turmoil (hold, partition, crash, and the heal).

use crate::fault::{FaultEvent, FaultPlan, Host, Link, ServerStage, Writer};
use crate::proto::server::StageFault;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared by every host of one run.
#[derive(Debug)]
pub struct FaultState {
    plan: FaultPlan,
    heal_at: Duration,
    connections: [AtomicU32; 4],
    server_sessions: AtomicU32,
    /// Crashes requested from inside a host (the server crashing after '.').
    pub crash_requests: Mutex<Vec<(Host, Duration)>>,
}

impl FaultState {
    /// Faults from `plan` until `heal_at`.
    pub fn new(plan: FaultPlan, heal_at: Duration) -> Arc<Self> {
        Arc::new(FaultState {
            plan,
            heal_at,
            connections: Default::default(),
            server_sessions: AtomicU32::new(0),
            crash_requests: Mutex::new(Vec::new()),
        })
    }

    /// The transport faults for `writer`'s next connection, opened at `now`.
    pub fn transport(&self, writer: Writer, now: Duration) -> Vec<FaultEvent> {
        let index = writer as usize;
        let n = self.connections[index].fetch_add(1, Ordering::SeqCst) + 1;
        if now >= self.heal_at {
            return Vec::new();
        }
        self.plan
            .events
            .iter()
            .filter(|e| e.transport_target() == Some((writer, n)))
            .cloned()
            .collect()
    }

    /// The application faults for the server's next session.
    pub fn server_session(&self) -> Vec<(ServerStage, StageFault)> {
        let n = self.server_sessions.fetch_add(1, Ordering::SeqCst) + 1;
        self.plan
            .events
            .iter()
            .filter_map(|e| match e {
                FaultEvent::ServerReply {
                    connection,
                    stage,
                    reply,
                } if *connection == n => Some((*stage, StageFault::Reply(reply.clone()))),
                FaultEvent::ServerDelay {
                    connection,
                    stage,
                    duration,
                } if *connection == n => Some((*stage, StageFault::Delay(duration.0))),
                FaultEvent::ServerCrashAfterDot {
                    connection,
                    restart_after,
                } if *connection == n => {
                    Some((ServerStage::Dot, StageFault::CrashAfterDot(restart_after.0)))
                }
                _ => None,
            })
            .collect()
    }
}

/// What the step loop does to the network at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetAction {
    /// Park segments between two hosts.
    Hold(&'static str, &'static str),
    /// Deliver parked segments.
    Release(&'static str, &'static str),
    /// Drop segments between two hosts.
    Partition(&'static str, &'static str),
    /// Stop dropping.
    Repair(&'static str, &'static str),
    /// Crash a host.
    Crash(&'static str),
    /// Restart a crashed host.
    Bounce(&'static str),
    /// End of the fault window: release, repair and restart everything.
    Heal,
}

/// The hosts at the ends of `link`.
pub fn link_hosts(link: Link, interceptor: bool) -> (&'static str, &'static str) {
    match (link, interceptor) {
        (Link::ClientSide, true) => ("client", "interceptor"),
        (Link::ServerSide, true) => ("interceptor", "server"),
        (_, false) => ("client", "server"),
    }
}

/// The timed network actions of a plan, sorted by time (stable for equal times).
pub fn schedule(
    plan: &FaultPlan,
    interceptor: bool,
    heal_at: Duration,
) -> Vec<(Duration, NetAction)> {
    let mut actions = Vec::new();
    for event in &plan.events {
        match event {
            FaultEvent::Hold { link, at, duration } => {
                let (a, b) = link_hosts(*link, interceptor);
                actions.push((at.0, NetAction::Hold(a, b)));
                actions.push((at.0 + duration.0, NetAction::Release(a, b)));
            }
            FaultEvent::Partition { link, at, duration } => {
                let (a, b) = link_hosts(*link, interceptor);
                actions.push((at.0, NetAction::Partition(a, b)));
                actions.push((at.0 + duration.0, NetAction::Repair(a, b)));
            }
            FaultEvent::Crash {
                host,
                at,
                restart_after,
            } => {
                if *host == Host::Interceptor && !interceptor {
                    continue;
                }
                actions.push((at.0, NetAction::Crash(host.name())));
                actions.push((at.0 + restart_after.0, NetAction::Bounce(host.name())));
            }
            _ => {}
        }
    }
    if !plan.events.is_empty() {
        actions.push((heal_at, NetAction::Heal));
    }
    actions.sort_by_key(|(t, _)| *t);
    actions
}
