//! Differential testing of client profiles against the real programs they model
//! (`smtpsim diff --client NAME`): generated server behaviours run twice, live (`serve` in
//! this process, the real program sending to it) and simulated (the program's client
//! profile against the same server knobs and fault plan); the two are compared on the
//! commands and how they arrived, the outcome, the attempts and the copies held. Each kind
//! of difference is confirmed by running its behaviour again, shrunk to its smallest
//! behaviour, and printed as a scenario that replays it.
//!
//! - [`behaviour`]: the seeded behaviour generator (a behaviour is a scenario file);
//! - [`live`] and [`sim`]: the two sides; [`observe`]: what a side showed, and the comparison;
//! - [`programs`]: one adapter per real program; [`known`]: the known differences.

pub mod behaviour;
pub mod known;
pub mod live;
pub mod observe;
pub mod programs;
pub mod sim;

use crate::scenario::Scenario;
use behaviour::{Behaviour, Limits};
use observe::{compare, Difference, Observation};
use programs::Program;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What `smtpsim diff --client` runs.
pub struct ClientDiffOptions {
    /// The program's adapter.
    pub program: &'static dyn Program,
    /// The program's path.
    pub path: PathBuf,
    /// The client profile it is compared with (its adapter's, unless `--profile` says).
    pub profile: String,
    /// The first behaviour's seed.
    pub seed: u64,
    /// How many behaviours.
    pub behaviours: u64,
    /// Behaviours run at once (1 for a program with a shared queue).
    pub jobs: usize,
    /// Start no new behaviour after this long.
    pub budget: Option<Duration>,
    /// Shrink each kind of difference.
    pub shrink: bool,
}

/// One kind of difference: how many behaviours showed it, and its smallest one.
#[derive(Debug, Clone)]
pub struct Kind {
    /// Behaviours that showed it.
    pub count: u64,
    /// The first (and, shrunk, the smallest) behaviour that shows it.
    pub behaviour: Behaviour,
    /// The difference that behaviour shows.
    pub difference: Difference,
    /// The known difference it is, if listed.
    pub known: Option<known::Divergence>,
    /// Whether a second live run showed it again.
    pub confirmed: bool,
    /// Confirming or shrinking stopped at the budget.
    pub unfinished: bool,
}

/// The result of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// `name version`.
    pub version: String,
    /// Behaviours run.
    pub behaviours: u64,
    /// Behaviours with a difference.
    pub differences: u64,
    /// Of them, known.
    pub known: u64,
    /// Every kind, by its description.
    pub kinds: BTreeMap<String, Kind>,
    /// Behaviours the harness could not run (the program hung, its log said nothing).
    pub errors: Vec<String>,
}

impl Summary {
    /// Exit 1 unless every difference is known and every behaviour ran.
    pub fn clean(&self) -> bool {
        self.differences == self.known && self.errors.is_empty()
    }
}

/// The profile's knobs as the adapter configures the program, and the limits of what may
/// be generated for it.
fn limits(program: &dyn Program) -> Limits {
    Limits {
        timeout: program.timeout(),
    }
}

impl ClientDiffOptions {
    /// The scenario text of `behaviour`.
    pub fn scenario_text(&self, behaviour: &Behaviour) -> String {
        behaviour.scenario(
            self.program.name(),
            &self.profile,
            &self.program.profile_knobs(),
        )
    }

    /// Whether the profile exists on this build (else the program is skipped).
    pub fn profile_exists(&self) -> Result<(), String> {
        crate::proto::client::ClientConfig::preset(&self.profile)
            .map(|_| ())
            .map_err(|_| {
                format!(
                    "no client profile {:?} on this build: {} skipped, nothing compared (--profile NAME compares it with another)",
                    self.profile,
                    self.program.name()
                )
            })
    }
}

/// The scenario of `behaviour`.
pub fn scenario(opts: &ClientDiffOptions, behaviour: &Behaviour) -> Result<Scenario, String> {
    let text = opts.scenario_text(behaviour);
    Scenario::parse(&text, &format!("behaviour {}", behaviour.seed)).map_err(|e| e.to_string())
}

/// Both sides of one scenario.
pub struct Sides {
    /// The real program's.
    pub real: Observation,
    /// The profile's.
    pub sim: Observation,
}

/// What a run needs besides its options: the live servers' runtime, where they listen,
/// the work directory.
pub struct Bench {
    runtime: tokio::runtime::Runtime,
    listen: String,
    work: PathBuf,
}

impl Bench {
    /// A runtime, a listen address (one port for the run when the program needs it), a
    /// fresh work directory.
    pub fn new(program: &dyn Program) -> Result<Bench, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let listen = if program.fixed_port() {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            probe.local_addr().map_err(|e| e.to_string())?.to_string()
        } else {
            "127.0.0.1:0".to_string()
        };
        let work = std::env::temp_dir().join(format!("smtpsim-client-diff-{}", std::process::id()));
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        Ok(Bench {
            runtime,
            listen,
            work,
        })
    }

    /// Stops what the program's adapter started and removes the work directory.
    pub fn finish(self, opts: &ClientDiffOptions) {
        opts.program.finish(&opts.path);
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// Runs `scenario` on both sides.
pub fn both(bench: &Bench, opts: &ClientDiffOptions, scenario: &Scenario) -> Result<Sides, String> {
    let seed = scenario.seeds.first().copied().unwrap_or(0);
    let sim = sim::run(scenario, seed)?;
    let dir = bench
        .work
        .join(format!("run-{}", NEXT_DIR.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let real = live::run(
        &bench.runtime,
        &bench.listen,
        opts.program,
        &opts.path,
        scenario,
        &dir,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Sides { real: real?, sim })
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// Behaviours the harness may fail to run before the whole run stops.
const MAX_ERRORS: usize = 5;

/// Runs the behaviours; prints progress of nothing (the caller prints the summary).
pub fn run(opts: &ClientDiffOptions) -> Result<Summary, String> {
    let bench = Bench::new(opts.program)?;
    let result = run_on(&bench, opts);
    bench.finish(opts);
    result
}

fn run_on(bench: &Bench, opts: &ClientDiffOptions) -> Result<Summary, String> {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let summary = Mutex::new(Summary {
        version: opts.program.version(&opts.path),
        ..Summary::default()
    });
    let error = Mutex::new(None::<String>);
    let jobs = if opts.program.parallel() {
        opts.jobs.max(1)
    } else {
        1
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if error.lock().expect("error").is_some()
                    || opts.budget.is_some_and(|b| started.elapsed() >= b)
                {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= opts.behaviours {
                    return;
                }
                let behaviour = Behaviour::generate(opts.seed + i, limits(opts.program));
                let outcome = scenario(opts, &behaviour).and_then(|s| both(bench, opts, &s));
                let sides = match outcome {
                    Ok(sides) => sides,
                    Err(e) => {
                        // One behaviour the harness could not run is reported and the run
                        // goes on; many mean it cannot run at all.
                        let e = format!("behaviour {}: {e}", behaviour.seed);
                        let mut summary = summary.lock().expect("summary");
                        summary.errors.push(e.clone());
                        if summary.errors.len() >= MAX_ERRORS {
                            *error.lock().expect("error") = Some(e);
                            return;
                        }
                        continue;
                    }
                };
                let differences = compare(&sides.real, &sides.sim);
                let mut summary = summary.lock().expect("summary");
                summary.behaviours += 1;
                if differences.is_empty() {
                    continue;
                }
                summary.differences += 1;
                let mut all_known = true;
                for difference in differences {
                    let known = known::find(opts.program.name(), &difference.kind);
                    all_known &= known.is_some();
                    summary
                        .kinds
                        .entry(difference.kind.clone())
                        .or_insert_with(|| Kind {
                            count: 0,
                            behaviour: behaviour.clone(),
                            difference,
                            known,
                            confirmed: false,
                            unfinished: false,
                        })
                        .count += 1;
                }
                if all_known {
                    summary.known += 1;
                }
            });
        }
    });
    if let Some(e) = error.into_inner().expect("error") {
        return Err(e);
    }
    let mut summary = summary.into_inner().expect("summary");
    for kind in summary.kinds.values_mut() {
        // Confirming and shrinking get as long again as the budget.
        if opts.budget.is_some_and(|b| started.elapsed() >= b * 2) {
            kind.unfinished = true;
            continue;
        }
        kind.confirmed = confirm(bench, opts, kind)?;
        if opts.shrink && kind.confirmed {
            let deadline = opts.budget.map(|b| started + b * 2);
            kind.unfinished = !shrink(bench, opts, kind, deadline)?;
        }
    }
    Ok(summary)
}

/// Runs a kind's behaviour again: does the same difference show?
fn confirm(bench: &Bench, opts: &ClientDiffOptions, kind: &Kind) -> Result<bool, String> {
    let s = scenario(opts, &kind.behaviour)?;
    let sides = both(bench, opts, &s)?;
    Ok(shows(&sides, &kind.difference.kind).is_some())
}

/// Makes a kind's behaviour as small as it goes while the same difference shows (false if
/// `deadline` came first).
fn shrink(
    bench: &Bench,
    opts: &ClientDiffOptions,
    kind: &mut Kind,
    deadline: Option<Instant>,
) -> Result<bool, String> {
    'smaller: loop {
        for candidate in kind.behaviour.smaller() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            let s = scenario(opts, &candidate)?;
            let sides = both(bench, opts, &s)?;
            if let Some(d) = shows(&sides, &kind.difference.kind) {
                kind.behaviour = candidate;
                kind.difference = d;
                continue 'smaller;
            }
        }
        return Ok(true);
    }
}

/// The difference of kind `kind` the two sides show, if they do.
fn shows(sides: &Sides, kind: &str) -> Option<Difference> {
    compare(&sides.real, &sides.sim)
        .into_iter()
        .find(|d| d.kind == kind)
}

/// Replays one behaviour file on both sides: the two observations and their difference.
pub fn replay(opts: &ClientDiffOptions, file: &Path) -> Result<(Sides, Vec<Difference>), String> {
    let scenario = Scenario::load(file).map_err(|e| e.to_string())?;
    let bench = Bench::new(opts.program)?;
    let sides = both(&bench, opts, &scenario);
    bench.finish(opts);
    let sides = sides?;
    let differences = compare(&sides.real, &sides.sim);
    Ok((sides, differences))
}

/// The report: the per-program line, then each kind of difference with its behaviour.
pub fn render(opts: &ClientDiffOptions, summary: &Summary) -> String {
    let mut out = format!(
        "{}: {} behaviours, {} differences ({} known)\n",
        summary.version, summary.behaviours, summary.differences, summary.known
    );
    for e in &summary.errors {
        out.push_str(&format!("harness error (not compared): {e}\n"));
    }
    if !summary.kinds.is_empty() {
        out.push_str(&format!(
            "(a difference is a behaviour whose two sides differ; {} kinds of difference below, a behaviour can show several)\n",
            summary.kinds.len()
        ));
    }
    for (i, kind) in summary.kinds.values().enumerate() {
        out.push_str(&format!(
            "\ndifference {} ({} behaviours{}{}): {}\n",
            i + 1,
            kind.count,
            if kind.confirmed {
                ""
            } else {
                ", NOT confirmed by a second run"
            },
            kind.known
                .as_ref()
                .map_or(String::new(), |k| format!(", known: {}", k.id)),
            kind.difference.kind
        ));
        out.push_str(&format!("  behaviour: {}\n", kind.behaviour.describe()));
        out.push_str(&render_sides(&kind.difference));
        let name = format!(
            "client-diff-{}-{}.toml",
            opts.program.name(),
            kind.behaviour.seed
        );
        out.push_str(&format!(
            "  replay: save the lines between the markers as {name}, then `smtpsim diff --client {} --replay {name}` (live and simulated) or `smtpsim run {name}` (simulated)\n",
            opts.program.name()
        ));
        out.push_str(&format!("----- {name} -----\n"));
        out.push_str(&opts.scenario_text(&kind.behaviour));
        out.push_str(&format!("----- end of {name} -----\n"));
    }
    out
}

/// The two sides of a difference, line by line (differing lines marked).
pub fn render_sides(d: &Difference) -> String {
    let mut out = String::new();
    let sim: BTreeMap<&str, &str> = d
        .sim
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let real: BTreeMap<&str, &str> = d
        .real
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut names: Vec<&str> = d.real.iter().map(|(k, _)| k.as_str()).collect();
    for (k, _) in &d.sim {
        if !names.contains(&k.as_str()) {
            names.push(k);
        }
    }
    for name in names {
        let (r, s) = (real.get(name).copied(), sim.get(name).copied());
        if r == s {
            out.push_str(&format!("    {name}: {}\n", r.unwrap_or("")));
        } else {
            out.push_str(&format!(
                "  * {name}:\n      real:    {}\n      profile: {}\n",
                r.unwrap_or("<none>"),
                s.unwrap_or("<none>")
            ));
        }
    }
    out
}
