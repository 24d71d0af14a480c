//! The timed network schedule of a fault plan that the engine's control carries out (hold,
//! partition, crash, and the heal).

use crate::fault::{FaultEvent, FaultPlan, Host, Link};
use std::time::Duration;

/// What the engine's control does to the network at a time.
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
