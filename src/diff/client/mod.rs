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
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

/// The result of a run.
pub type Summary = super::runner::Summary<Behaviour>;

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

/// The client differential over one bench.
struct Run<'a> {
    opts: &'a ClientDiffOptions,
    /// None: only to render a summary.
    bench: Option<&'a Bench>,
}

impl super::runner::Differential for Run<'_> {
    type Behaviour = Behaviour;
    fn version(&self) -> String {
        self.opts.program.version(&self.opts.path)
    }
    fn name(&self) -> &str {
        self.opts.program.name()
    }
    fn flag(&self) -> String {
        format!("--client {}", self.opts.program.name())
    }
    fn jobs(&self) -> usize {
        if self.opts.program.parallel() {
            self.opts.jobs
        } else {
            1
        }
    }
    fn generate(&self, seed: u64) -> Behaviour {
        Behaviour::generate(seed, limits(self.opts.program))
    }
    fn scenario_text(&self, behaviour: &Behaviour) -> String {
        self.opts.scenario_text(behaviour)
    }
    fn differences(&self, behaviour: &Behaviour) -> Result<Vec<Difference>, String> {
        let bench = self.bench.ok_or("no bench to run on")?;
        let sides = both(bench, self.opts, &scenario(self.opts, behaviour)?)?;
        Ok(compare(&sides.real, &sides.sim))
    }
    fn known(&self, kind: &str) -> Option<known::Divergence> {
        known::find(self.opts.program.name(), kind)
    }
}

/// Runs the behaviours; prints nothing (the caller prints the summary).
pub fn run(opts: &ClientDiffOptions) -> Result<Summary, String> {
    let bench = Bench::new(opts.program)?;
    let result = super::runner::run(
        &Run {
            opts,
            bench: Some(&bench),
        },
        super::runner::RunOptions {
            seed: opts.seed,
            behaviours: opts.behaviours,
            budget: opts.budget,
            shrink: opts.shrink,
        },
    );
    bench.finish(opts);
    result
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
    super::runner::render(&Run { opts, bench: None }, summary)
}
