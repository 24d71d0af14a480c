//! Shrinking: from a failing seed's fault plan, remove and weaken events while the same
//! invariant still fails, and give back the smallest plan found (as TOML that replays it).

use crate::fault::{FaultEvent, FaultPlan};
use crate::profile::Dur;
use crate::scenario::Scenario;
use crate::sim::{self, SimError};

/// What shrinking found.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The invariant that keeps failing.
    pub invariant: String,
    /// The seed's original plan.
    pub original: FaultPlan,
    /// The smallest plan that still fails the same way.
    pub minimal: FaultPlan,
    /// Simulations run while shrinking.
    pub runs: usize,
}

/// Runs the failing seed with a plan.
pub(crate) type PlanRun<'a> = &'a dyn Fn(FaultPlan) -> Result<sim::RunResult, SimError>;

/// The first invariant `plan` breaks, if any.
fn failure(run: PlanRun<'_>, plan: &FaultPlan) -> Result<Option<String>, SimError> {
    let result = run(plan.clone())?;
    Ok(result
        .report
        .violations
        .first()
        .map(|v| v.invariant.to_string()))
}

/// Shrinks the plan of `seed`; `None` if the seed does not fail.
pub fn shrink(scenario: &Scenario, seed: u64) -> Result<Option<Shrunk>, SimError> {
    let run = |plan| sim::run_with_plan(scenario, seed, plan);
    shrink_plan(sim::plan_for(scenario, seed), &run)
}

/// Shrinks `original`, the plan of a seed that `run` runs with any plan; `None` if it does
/// not fail.
pub(crate) fn shrink_plan(
    original: FaultPlan,
    run: PlanRun<'_>,
) -> Result<Option<Shrunk>, SimError> {
    let mut runs = 1;
    let Some(invariant) = failure(run, &original)? else {
        return Ok(None);
    };
    let mut plan = original.clone();
    let still_fails = |candidate: &FaultPlan, runs: &mut usize| -> Result<bool, SimError> {
        *runs += 1;
        Ok(failure(run, candidate)?.as_deref() == Some(invariant.as_str()))
    };
    // Remove events, last first, until no single removal keeps the failure.
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..plan.events.len()).rev() {
            let mut candidate = plan.clone();
            candidate.events.remove(i);
            if still_fails(&candidate, &mut runs)? {
                plan = candidate;
                changed = true;
            }
        }
    }
    // Weaken what is left: shorter durations, larger segments.
    for i in 0..plan.events.len() {
        for _ in 0..12 {
            let Some(weaker) = weaken(&plan.events[i]) else {
                break;
            };
            let mut candidate = plan.clone();
            candidate.events[i] = weaker;
            if !still_fails(&candidate, &mut runs)? {
                break;
            }
            plan = candidate;
        }
    }
    Ok(Some(Shrunk {
        invariant,
        original,
        minimal: plan,
        runs,
    }))
}

/// A weaker version of an event, if there is one.
fn weaken(event: &FaultEvent) -> Option<FaultEvent> {
    let half = |d: &Dur| (d.0.as_millis() > 1).then(|| Dur(d.0 / 2));
    let mut e = event.clone();
    match &mut e {
        FaultEvent::Hold { duration, .. }
        | FaultEvent::Partition { duration, .. }
        | FaultEvent::Stall { duration, .. }
        | FaultEvent::ServerDelay { duration, .. } => {
            *duration = half(duration)?;
        }
        FaultEvent::Crash { restart_after, .. }
        | FaultEvent::ServerCrashAfterDot { restart_after, .. } => {
            *restart_after = half(restart_after)?;
        }
        FaultEvent::Split { max_segment, .. } => {
            if *max_segment >= 512 {
                return None;
            }
            *max_segment *= 2;
        }
        FaultEvent::Coalesce { window, .. } => *window = half(window)?,
        FaultEvent::Drop { .. }
        | FaultEvent::DropAtLine { .. }
        | FaultEvent::ServerReply { .. } => return None,
    }
    Some(e)
}
