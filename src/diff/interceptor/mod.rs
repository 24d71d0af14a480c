//! Differential testing of interceptor presets against the real SMTP proxies they model
//! (`smtpsim diff --interceptor NAME`): generated behaviours of both ends and of the proxy's
//! filter run twice, live (the real proxy on loopback between the client session and `serve`,
//! both in this process) and simulated (the preset between the same client profile and the
//! same server); compared on what the server saw (commands as they arrived, copies), what the
//! client got (the replies, the proxy's own among them, and their timing class) and the
//! client's outcome. Running, confirming, shrinking and reporting are [`super::runner`]'s.
//!
//! - [`behaviour`]: the generator; [`live`]: the live side; [`observe`]: what a side showed
//!   and how two differ; [`proxies`]: one adapter per real proxy; the known divergences are
//!   `known-interceptor-divergences.toml` beside this file.

pub mod behaviour;
pub mod live;
pub mod observe;
pub mod proxies;

use super::client::known::{self, Divergence};
use super::client::observe::Difference;
use super::runner::{Differential, RunOptions};
use crate::scenario::Scenario;
use behaviour::{Behaviour, Filter};
use observe::{compare, Observation};
use proxies::Proxy;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What `smtpsim diff --interceptor` runs.
pub struct InterceptorDiffOptions {
    /// The proxy's adapter.
    pub proxy: &'static dyn Proxy,
    /// The proxy's path.
    pub path: PathBuf,
    /// The interceptor preset it is compared with.
    pub preset: String,
    /// The first behaviour's seed.
    pub seed: u64,
    /// How many behaviours.
    pub behaviours: u64,
    /// Behaviours run at once.
    pub jobs: usize,
    /// Start no new behaviour after this long.
    pub budget: Option<Duration>,
    /// Shrink each kind of difference.
    pub shrink: bool,
}

/// The known divergences, as built into the binary.
pub const KNOWN: &str = include_str!("known-interceptor-divergences.toml");

/// The result of a run.
pub type Summary = super::runner::Summary<Behaviour>;

/// Both sides of one behaviour.
pub struct Sides {
    /// The real proxy's.
    pub real: Observation,
    /// The preset's.
    pub sim: Observation,
}

impl InterceptorDiffOptions {
    /// The scenario text of `behaviour`.
    pub fn scenario_text(&self, behaviour: &Behaviour) -> String {
        behaviour.scenario(
            self.proxy.about().name,
            &self.preset,
            &self.proxy.filter_knobs(behaviour.filter),
        )
    }

    /// Runs `scenario` (filtering with `filter`) on both sides.
    pub fn both(
        &self,
        bench: &Bench,
        scenario: &Scenario,
        filter: Filter,
    ) -> Result<Sides, String> {
        let seed = scenario.seeds.first().copied().unwrap_or(0);
        let result = crate::sim::run(scenario, seed).map_err(|e| e.to_string())?;
        let sim = observe::observe(&result.events, observe::outcome(&result.outcomes));
        let dir = bench.shared.join(format!(
            "behaviour-{}",
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let how = proxies::Start {
            shared: &bench.shared,
            dir: &dir,
            port: 0,
            upstream: "127.0.0.1:0".parse().expect("an address"),
            filter,
        };
        let real = live::run(&bench.runtime, self.proxy, &self.path, scenario, &how);
        if std::env::var_os("SMTPSIM_KEEP_DIFF_LOGS").is_some() {
            // The proxy's configuration and log, for a difference to be read at its source.
            let kept = std::env::temp_dir().join(format!(
                "smtpsim-interceptor-diff-kept-{}-{}",
                std::process::id(),
                dir.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            let _ = std::fs::rename(&dir, &kept);
            eprintln!("kept: {}", kept.display());
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(Sides { real: real?, sim })
    }
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// What a run shares: the live runtime (serve's sessions and the client's), its directory,
/// and what the proxy's adapter started for every behaviour (a scanner daemon).
pub struct Bench {
    runtime: tokio::runtime::Runtime,
    shared: PathBuf,
    daemon: Option<proxies::Running>,
}

impl Bench {
    /// Starts the runtime and what the proxy needs for the whole run.
    pub fn new(proxy: &dyn Proxy) -> Result<Bench, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let shared = std::env::temp_dir().join(format!(
            "smtpsim-interceptor-diff-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&shared).map_err(|e| format!("{}: {e}", shared.display()))?;
        let daemon = proxy.prepare(&shared);
        let mut bench = Bench {
            runtime,
            shared,
            daemon: None,
        };
        bench.daemon = daemon?;
        Ok(bench)
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.daemon.take();
        let _ = std::fs::remove_dir_all(&self.shared);
    }
}

/// The interceptor differential over one bench.
struct Run<'a> {
    opts: &'a InterceptorDiffOptions,
    /// None: only to render a summary.
    bench: Option<&'a Bench>,
}

impl Differential for Run<'_> {
    type Behaviour = Behaviour;
    fn version(&self) -> String {
        self.opts.proxy.version(&self.opts.path)
    }
    fn name(&self) -> &str {
        self.opts.proxy.about().name
    }
    fn flag(&self) -> String {
        format!("--interceptor {}", self.name())
    }
    fn jobs(&self) -> usize {
        self.opts.jobs
    }
    fn generate(&self, seed: u64) -> Behaviour {
        Behaviour::generate(seed, self.opts.proxy.filters())
            .with_signature(self.opts.proxy.signature())
    }
    fn scenario_text(&self, behaviour: &Behaviour) -> String {
        self.opts.scenario_text(behaviour)
    }
    fn differences(&self, behaviour: &Behaviour) -> Result<Vec<Difference>, String> {
        let bench = self.bench.ok_or("no bench to run on")?;
        let text = self.scenario_text(behaviour);
        let scenario = Scenario::parse(&text, &format!("behaviour {}", behaviour.ends.seed))
            .map_err(|e| e.to_string())?;
        let sides = self.opts.both(bench, &scenario, behaviour.filter)?;
        Ok(compare(&sides.real, &sides.sim))
    }
    fn known(&self, kind: &str) -> Option<Divergence> {
        known::find_in(&all_known(), self.name(), kind)
    }
}

/// Every known divergence of a proxy from its preset.
pub fn all_known() -> Vec<Divergence> {
    known::parse(
        KNOWN,
        "src/diff/interceptor/known-interceptor-divergences.toml",
    )
}

/// Runs the behaviours; prints nothing (the caller prints the summary).
pub fn run(opts: &InterceptorDiffOptions) -> Result<Summary, String> {
    let bench = Bench::new(opts.proxy)?;
    super::runner::run(
        &Run {
            opts,
            bench: Some(&bench),
        },
        RunOptions {
            seed: opts.seed,
            behaviours: opts.behaviours,
            budget: opts.budget,
            shrink: opts.shrink,
        },
    )
}

/// Replays one behaviour file on both sides: the two observations and their differences.
pub fn replay(
    opts: &InterceptorDiffOptions,
    file: &Path,
) -> Result<(Sides, Vec<Difference>), String> {
    let scenario = Scenario::load(file).map_err(|e| e.to_string())?;
    let filter = Behaviour::filter_of(&scenario.about);
    let sides = opts.both(&Bench::new(opts.proxy)?, &scenario, filter)?;
    let differences = compare(&sides.real, &sides.sim);
    Ok((sides, differences))
}

/// The report: the proxy's line, then each kind of difference with its behaviour.
pub fn render(opts: &InterceptorDiffOptions, summary: &Summary) -> String {
    super::runner::render(&Run { opts, bench: None }, summary)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_known_divergences_read() {
        let proxies: Vec<&str> = super::proxies::all()
            .iter()
            .map(|p| p.about().name)
            .collect();
        for d in super::all_known() {
            assert!(
                proxies.contains(&d.program.as_str()),
                "{}: unknown proxy {}",
                d.id,
                d.program
            );
            assert!(!d.reason.trim().is_empty(), "{}: no reason", d.id);
        }
    }
}
