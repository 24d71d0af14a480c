//! `smtpsim bench`: wall time per simulated session, virtual-to-wall ratio and the engine's
//! work (turns, egress passes), measured over many seeds on one thread. It reads the wall
//! clock only to report how fast the simulator is, never inside a simulation.

use crate::scenario::Scenario;
use crate::sim;
use std::time::{Duration, Instant};

/// Timings of one bench run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Sessions run.
    pub runs: usize,
    /// Median wall time per session.
    pub median_wall: Duration,
    /// Fastest and slowest session.
    pub min_wall: Duration,
    /// Slowest session.
    pub max_wall: Duration,
    /// Median virtual time per session.
    pub median_virtual: Duration,
    /// Sessions per second of wall time (whole run).
    pub sessions_per_sec: f64,
    /// Median turns of the engine's loop per session.
    pub median_turns: u64,
    /// Median egress passes per session.
    pub median_passes: u64,
}

/// Runs `scenario` for seeds `first..first + runs`, one after another.
pub fn bench(scenario: &Scenario, first: u64, runs: usize) -> Result<BenchReport, sim::SimError> {
    let mut walls = Vec::with_capacity(runs);
    let mut virtuals = Vec::with_capacity(runs);
    let mut turns = Vec::with_capacity(runs);
    let mut passes = Vec::with_capacity(runs);
    let start = Instant::now();
    for seed in first..first + runs as u64 {
        let t = Instant::now();
        let result = sim::run(scenario, seed)?;
        walls.push(t.elapsed());
        virtuals.push(result.elapsed);
        turns.push(result.engine.turns);
        passes.push(result.engine.passes);
    }
    let total = start.elapsed();
    walls.sort();
    virtuals.sort();
    turns.sort();
    passes.sort();
    Ok(BenchReport {
        runs,
        median_wall: walls[runs / 2],
        min_wall: walls[0],
        max_wall: walls[runs - 1],
        median_virtual: virtuals[runs / 2],
        sessions_per_sec: runs as f64 / total.as_secs_f64(),
        median_turns: turns[runs / 2],
        median_passes: passes[runs / 2],
    })
}
