//! The simulation side of `smtpsim diff --client`: the behaviour's scenario (the program's
//! client profile, the same server knobs and fault plan) run in the simulation, read as an
//! [`Observation`] from the same server-side events as the live run.

use super::observe::{observe, Observation, Outcome};
use crate::proto::client::Status;
use crate::scenario::Scenario;

/// Runs `scenario` at `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Observation, String> {
    let result = crate::sim::run(scenario, seed).map_err(|e| e.to_string())?;
    // A profile that never retries is a one-shot program: whatever did not go through was
    // reported to its caller. One with a queue defers and bounces.
    let queue = scenario.client.has_queue();
    // A queue returns what it gave up on to the sender: a recipient refused for good bounces
    // even when the others went through (Postfix's bounce, as its log says status=bounced).
    let bounced_one = result.report.messages.first().is_some_and(|m| {
        m.recipients
            .iter()
            .any(|r| r.verdict == crate::oracle::Verdict::Bounced)
    });
    // Each attempt adds an outcome: the last one is the message's.
    let outcome = match result
        .outcomes
        .iter()
        .rev()
        .find(|o| o.id == 0)
        .map(|o| &o.status)
    {
        _ if queue && bounced_one => Outcome::Bounced,
        Some(Status::Accepted) => Outcome::Delivered,
        Some(Status::Rejected) if queue => Outcome::Bounced,
        Some(Status::Deferred) if queue => Outcome::Deferred,
        _ => Outcome::Failed,
    };
    Ok(observe(&result.events, outcome))
}
