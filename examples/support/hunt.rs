//! What both examples do with their worlds: sweep one, print the verdicts and the first
//! failure with its replay call, and shrink that failure to its smallest fault plan; sweep the
//! fixed one and check that every seed holds.

use smtpsim::sweep::SweepReport;
use smtpsim::world::{Minimal, World};

/// Sweeps `seeds` of `world` (named `name` in what it prints) and shrinks the first failing
/// seed; an error if no seed fails.
pub fn hunt(name: &str, world: &World, seeds: std::ops::Range<u64>) -> Result<Minimal, String> {
    let report = world.sweep(seeds.clone());
    println!(
        "{name}: {} seeds, {} passed, verdicts {:?}",
        report.runs, report.passed, report.verdicts
    );
    let first = report.violations.first().ok_or(format!(
        "{name}: expected a failure on some seed of {seeds:?}"
    ))?;
    println!(
        "first failure: seed {} {}: {}\n  replay: {}",
        first.seed, first.invariant, first.detail, first.replay
    );
    let minimal = world
        .shrink_first(&report)
        .map_err(|e| e.to_string())?
        .ok_or("nothing to shrink")?;
    let shrunk = &minimal.shrunk;
    let scenario = world.scenario().map_err(|e| e.to_string())?;
    println!(
        "shrunk from {} to {} fault(s) in {} runs:\n{}",
        shrunk.original.events.len(),
        shrunk.minimal.events.len(),
        shrunk.runs,
        shrunk.minimal.to_toml(&scenario.fault_config)
    );
    Ok(minimal)
}

/// Sweeps `seeds` of `world` (named `name`); an error if some seed fails.
pub fn holds(
    name: &str,
    world: &World,
    seeds: std::ops::Range<u64>,
) -> Result<SweepReport, String> {
    let report = world.sweep(seeds);
    println!(
        "{name}: {} seeds, {} passed, verdicts {:?}",
        report.runs, report.passed, report.verdicts
    );
    match report.violations.first() {
        Some(v) => Err(format!("{name} broke: {v:?}")),
        None => Ok(report),
    }
}
