//! Seed sweeps: many seeds of one scenario under one fault preset, in parallel (one sim per
//! thread at a time), with results that do not depend on the number of threads or on
//! sharding, and the JSON report that CI jobs and shards exchange.

use crate::oracle::Verdict;
use crate::scenario::Scenario;
use crate::sim;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One shard of a sweep: `index` of `count`, 1-based. Seed `s` belongs to shard `s % count + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// Parses `I/N` with 1 <= I <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("invalid shard {text:?}: expected I/N, e.g. 1/4"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("invalid shard index in {text:?}"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("invalid shard count in {text:?}"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("invalid shard {text:?}: need 1 <= I <= N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether `seed` belongs to this shard.
    pub fn owns(&self, seed: u64) -> bool {
        seed % self.count == self.index - 1
    }
}

/// Parses a half-open seed range `A..B`.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("invalid seed range {text:?}: expected A..B, e.g. 0..10000"))?;
    let start: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("invalid seed range start in {text:?}"))?;
    let end: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("invalid seed range end in {text:?}"))?;
    if end < start {
        return Err(format!("invalid seed range {text:?}: end before start"));
    }
    Ok(start..end)
}

/// A broken invariant at one seed, with the command that replays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedViolation {
    /// The seed.
    pub seed: u64,
    /// The invariant's name.
    pub invariant: String,
    /// What happened.
    pub detail: String,
    /// The command that replays it.
    pub replay: String,
}

/// The machine-readable result of a sweep (or of a shard, or of merged shards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The scenario file as given.
    pub scenario: String,
    /// The fault preset.
    pub faults: String,
    /// The whole seed range, `A..B`.
    pub seeds: String,
    /// `I/N` when this report covers one shard only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Why the sweep ended before every seed ran (`interrupted`, or the `--max-fail` count);
    /// absent when every seed ran. `merge` refuses a report that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Seeds run.
    pub runs: u64,
    /// Seeds with every invariant held.
    pub passed: u64,
    /// Every violation, by seed.
    pub violations: Vec<SeedViolation>,
    /// How many messages got each verdict.
    pub verdicts: BTreeMap<String, u64>,
}

struct SeedResult {
    seed: u64,
    violations: Vec<SeedViolation>,
    verdicts: Vec<Verdict>,
}

/// What a sweep tells its watcher after each seed.
#[derive(Debug)]
pub struct Progress<'a> {
    /// Seeds finished so far.
    pub done: usize,
    /// Seeds in the sweep (this shard's).
    pub total: usize,
    /// The seed just finished.
    pub seed: u64,
    /// Its broken invariants (empty: it passed).
    pub violations: &'a [SeedViolation],
}

/// The invariant a run that panicked breaks.
pub const PANIC: &str = "panic";

/// Whether a violation says the simulator itself failed, whatever the scenario: a panic, a
/// run that could not complete, a run stuck until its time limit. A soak wants none of them;
/// every other violation is a finding about the mail (the sims are bug reproductions).
pub fn is_failure_of_the_simulator(v: &SeedViolation) -> bool {
    v.invariant == PANIC
        || v.invariant == "simulation-error"
        || (v.invariant == "liveness" && v.detail.starts_with(crate::oracle::STUCK))
}

/// A watcher that only lets the sweep run.
pub fn quiet(_: &Progress<'_>) -> bool {
    true
}

/// Runs the sweep. `watch` sees each seed as it finishes and answers whether to go on: a
/// `false` stops the sweep after the seeds already running (the report then covers the seeds
/// that ran; which ones depends on the threads' timing).
pub fn sweep(
    scenario: &Scenario,
    file: &str,
    seeds: Range<u64>,
    jobs: usize,
    shard: Option<Shard>,
    watch: &(dyn Fn(&Progress<'_>) -> bool + Sync),
) -> SweepReport {
    let world = Runs {
        label: file,
        faults: &scenario.faults,
        run: &|seed| sim::run(scenario, seed),
        replay: &|seed| crate::seeds::replay_command(file, seed, &scenario.faults),
    };
    sweep_runs(&world, seeds, jobs, shard, watch)
}

/// What a sweep runs: a seed's run and its replay, and the names its report gives them.
pub(crate) struct Runs<'a> {
    /// The scenario file, or the world's Rust expression.
    pub(crate) label: &'a str,
    /// The fault preset.
    pub(crate) faults: &'a str,
    /// Runs one seed.
    pub(crate) run: &'a (dyn Fn(u64) -> Result<sim::RunResult, sim::SimError> + Sync),
    /// How to replay one seed.
    pub(crate) replay: &'a (dyn Fn(u64) -> String + Sync),
}

/// The sweep of `world` (see [`sweep`]).
pub(crate) fn sweep_runs(
    world: &Runs<'_>,
    seeds: Range<u64>,
    jobs: usize,
    shard: Option<Shard>,
    watch: &(dyn Fn(&Progress<'_>) -> bool + Sync),
) -> SweepReport {
    let mine: Vec<u64> = seeds
        .clone()
        .filter(|s| shard.is_none_or(|sh| sh.owns(*s)))
        .collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let results: Mutex<Vec<SeedResult>> = Mutex::new(Vec::with_capacity(mine.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&seed) = mine.get(i) else { break };
                let replay = (world.replay)(seed);
                // A panic is a finding like any other: kept with its seed, the sweep goes on.
                let run =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (world.run)(seed)))
                        .unwrap_or_else(|panic| {
                            let text = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_else(|| "a panic without a message".into());
                            Err(sim::SimError(format!("{PANIC}: {text}")))
                        });
                let result = match run {
                    Ok(run) => SeedResult {
                        seed,
                        violations: run
                            .report
                            .violations
                            .iter()
                            .map(|v| SeedViolation {
                                seed,
                                invariant: v.invariant.to_string(),
                                detail: v.detail.clone(),
                                replay: replay.clone(),
                            })
                            .collect(),
                        verdicts: run.report.messages.iter().map(|m| m.verdict).collect(),
                    },
                    Err(e) => SeedResult {
                        seed,
                        violations: vec![SeedViolation {
                            seed,
                            invariant: if e.0.starts_with(PANIC) {
                                PANIC.into()
                            } else {
                                "simulation-error".into()
                            },
                            detail: e.0,
                            replay,
                        }],
                        verdicts: Vec::new(),
                    },
                };
                let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                let go_on = watch(&Progress {
                    done: d,
                    total: mine.len(),
                    seed,
                    violations: &result.violations,
                });
                if !go_on {
                    stop.store(true, Ordering::SeqCst);
                }
                results.lock().expect("results").push(result);
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|r| r.seed);
    let mut report = SweepReport {
        scenario: world.label.to_string(),
        faults: world.faults.to_string(),
        seeds: format!("{}..{}", seeds.start, seeds.end),
        shard: shard.map(|s| format!("{}/{}", s.index, s.count)),
        stopped: None,
        runs: results.len() as u64,
        passed: 0,
        violations: Vec::new(),
        verdicts: BTreeMap::new(),
    };
    for r in results {
        if r.violations.is_empty() {
            report.passed += 1;
        }
        report.violations.extend(r.violations);
        for v in r.verdicts {
            *report.verdicts.entry(v.name().to_string()).or_default() += 1;
        }
    }
    report
}

/// A scenario path written lexically normal, so `./sims/x.toml` and `sims/x.toml` compare equal.
pub fn normal_path(text: &str) -> String {
    let path: std::path::PathBuf = std::path::Path::new(text)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    path.display().to_string()
}

/// How many seeds of `seeds` (`A..B`) a report of `shard` (`I/N`, or none) covers.
fn seeds_owned(seeds: &str, shard: Option<&str>) -> Result<u64, String> {
    let range = parse_seeds(seeds)?;
    let shard = shard.map(Shard::parse).transpose()?;
    Ok(range.filter(|s| shard.is_none_or(|sh| sh.owns(*s))).count() as u64)
}

/// Merges shard reports of one sweep into the report of the whole sweep. `names` name the
/// parts (their files) in errors.
pub fn merge(parts: &[SweepReport], names: &[String]) -> Result<SweepReport, String> {
    let first = parts.first().ok_or("nothing to merge")?;
    for (p, name) in parts.iter().zip(names) {
        let what = p
            .shard
            .as_ref()
            .map(|s| format!("{name} (shard {s})"))
            .unwrap_or_else(|| name.clone());
        if let Some(why) = &p.stopped {
            return Err(format!(
                "cannot merge: {what} is incomplete ({why}; {} seeds ran): run that shard again",
                p.runs
            ));
        }
        let owned = seeds_owned(&p.seeds, p.shard.as_deref())?;
        if p.runs != owned {
            return Err(format!(
                "cannot merge: {what} ran {} of its {owned} seeds: run that shard again",
                p.runs
            ));
        }
    }
    for p in parts {
        if normal_path(&p.scenario) != normal_path(&first.scenario)
            || p.faults != first.faults
            || p.seeds != first.seeds
        {
            return Err(format!(
                "cannot merge: {} / {} / {} is not the sweep of {} / {} / {}",
                p.scenario, p.faults, p.seeds, first.scenario, first.faults, first.seeds
            ));
        }
    }
    check_shards(parts)?;
    let mut merged = SweepReport {
        shard: None,
        runs: 0,
        passed: 0,
        violations: Vec::new(),
        verdicts: BTreeMap::new(),
        ..first.clone()
    };
    for p in parts {
        merged.runs += p.runs;
        merged.passed += p.passed;
        merged.violations.extend(p.violations.iter().cloned());
        for (k, v) in &p.verdicts {
            *merged.verdicts.entry(k.clone()).or_default() += v;
        }
    }
    // Stable sort: a seed's violations keep their order.
    merged.violations.sort_by_key(|v| v.seed);
    Ok(merged)
}

/// The parts are the shards 1..N of one split, each once (or a single unsharded report).
fn check_shards(parts: &[SweepReport]) -> Result<(), String> {
    let shards: Vec<Option<Shard>> = parts
        .iter()
        .map(|p| p.shard.as_deref().map(Shard::parse).transpose())
        .collect::<Result<_, _>>()?;
    if shards.iter().all(Option::is_none) {
        return match parts.len() {
            1 => Ok(()),
            n => Err(format!(
                "cannot merge: {n} reports of the whole sweep (no shards): the same seeds twice"
            )),
        };
    }
    let Some(shards) = shards.into_iter().collect::<Option<Vec<Shard>>>() else {
        return Err("cannot merge: a whole-sweep report with shards of it".into());
    };
    let count = shards[0].count;
    if let Some(other) = shards.iter().find(|s| s.count != count) {
        return Err(format!(
            "cannot merge: shards of different splits ({}/{} and {}/{count})",
            other.index, other.count, shards[0].index
        ));
    }
    let mut seen = vec![0u32; count as usize];
    for s in &shards {
        seen[s.index as usize - 1] += 1;
    }
    let repeated: Vec<String> = (1..=count)
        .filter(|i| seen[*i as usize - 1] > 1)
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !repeated.is_empty() {
        return Err(format!(
            "cannot merge: shard {} given twice",
            repeated.join(", ")
        ));
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| seen[*i as usize - 1] == 0)
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "cannot merge: shard {} missing",
            missing.join(", ")
        ));
    }
    Ok(())
}
