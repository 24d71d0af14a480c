//! The machinery the behaviour differentials share (`smtpsim diff --client` and `--interceptor`):
//! generated behaviours run on both sides (in parallel, within a budget), their differences
//! grouped by kind, each kind confirmed by running its behaviour again, shrunk to its smallest
//! behaviour, matched against the known divergences, and printed as a replayable scenario.

use super::client::known::Divergence;
use super::client::observe::Difference;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A generated behaviour.
pub trait Generated: Clone + Send + Sync {
    /// Its seed.
    fn seed(&self) -> u64;
    /// It in one line.
    fn describe(&self) -> String;
    /// Smaller behaviours, one change each (for shrinking).
    fn smaller(&self) -> Vec<Self>;
}

/// One differential: how its behaviours are made, run on both sides and shown.
pub trait Differential: Sync {
    /// A generated behaviour.
    type Behaviour: Generated;
    /// `name version` of the real program.
    fn version(&self) -> String;
    /// The real program's name (known divergences, file names).
    fn name(&self) -> &str;
    /// The mode's flag as a user types it, e.g. `--client swaks`.
    fn flag(&self) -> String;
    /// Behaviours that may run at once.
    fn jobs(&self) -> usize;
    /// The behaviour `seed` draws.
    fn generate(&self, seed: u64) -> Self::Behaviour;
    /// The scenario file that replays a behaviour.
    fn scenario_text(&self, behaviour: &Self::Behaviour) -> String;
    /// Runs a behaviour on both sides: how they differ.
    fn differences(&self, behaviour: &Self::Behaviour) -> Result<Vec<Difference>, String>;
    /// The known divergence a kind of difference is.
    fn known(&self, kind: &str) -> Option<Divergence>;
}

/// How many behaviours, from which seed, in how long.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// The first behaviour's seed.
    pub seed: u64,
    /// How many behaviours.
    pub behaviours: u64,
    /// Start no new behaviour after this long.
    pub budget: Option<Duration>,
    /// Shrink each kind of difference.
    pub shrink: bool,
}

/// One kind of difference: how many behaviours showed it, and its smallest one.
#[derive(Debug, Clone)]
pub struct Kind<B> {
    /// Behaviours that showed it.
    pub count: u64,
    /// The first (and, shrunk, the smallest) behaviour that shows it.
    pub behaviour: B,
    /// The difference that behaviour shows.
    pub difference: Difference,
    /// The known difference it is, if listed.
    pub known: Option<Divergence>,
    /// Whether a second live run showed it again.
    pub confirmed: bool,
    /// Confirming or shrinking stopped at the budget.
    pub unfinished: bool,
}

/// The result of a run.
#[derive(Debug)]
pub struct Summary<B> {
    /// `name version`.
    pub version: String,
    /// Behaviours run.
    pub behaviours: u64,
    /// Behaviours with a difference.
    pub differences: u64,
    /// Of them, known.
    pub known: u64,
    /// Every kind, by its description.
    pub kinds: BTreeMap<String, Kind<B>>,
    /// Behaviours the harness could not run (the program hung, its log said nothing).
    pub errors: Vec<String>,
}

impl<B> Summary<B> {
    /// Exit 1 unless every difference is known and every behaviour ran.
    pub fn clean(&self) -> bool {
        self.differences == self.known && self.errors.is_empty()
    }
}

/// Behaviours the harness may fail to run before the whole run stops.
const MAX_ERRORS: usize = 5;

/// Runs the behaviours, then confirms and shrinks each kind of difference (for as long again
/// as the budget); prints nothing (the caller renders the summary).
pub fn run<D: Differential>(d: &D, opts: RunOptions) -> Result<Summary<D::Behaviour>, String> {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let summary = Mutex::new(Summary {
        version: d.version(),
        behaviours: 0,
        differences: 0,
        known: 0,
        kinds: BTreeMap::new(),
        errors: Vec::new(),
    });
    let error = Mutex::new(None::<String>);
    std::thread::scope(|scope| {
        for _ in 0..d.jobs().max(1) {
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
                let behaviour = d.generate(opts.seed + i);
                let differences = match d.differences(&behaviour) {
                    Ok(differences) => differences,
                    Err(e) => {
                        // One behaviour the harness could not run is reported and the run
                        // goes on; many mean it cannot run at all.
                        let e = format!("behaviour {}: {e}", behaviour.seed());
                        let mut summary = summary.lock().expect("summary");
                        summary.errors.push(e.clone());
                        if summary.errors.len() >= MAX_ERRORS {
                            *error.lock().expect("error") = Some(e);
                            return;
                        }
                        continue;
                    }
                };
                let mut summary = summary.lock().expect("summary");
                summary.behaviours += 1;
                if differences.is_empty() {
                    continue;
                }
                summary.differences += 1;
                let mut all_known = true;
                for difference in differences {
                    let known = d.known(&difference.kind);
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
        kind.confirmed = shows(d, &kind.behaviour, &kind.difference.kind)?.is_some();
        if opts.shrink && kind.confirmed {
            let deadline = opts.budget.map(|b| started + b * 2);
            kind.unfinished = !shrink(d, kind, deadline)?;
        }
    }
    Ok(summary)
}

/// Makes a kind's behaviour as small as it goes while the same difference shows (false if
/// `deadline` came first).
fn shrink<D: Differential>(
    d: &D,
    kind: &mut Kind<D::Behaviour>,
    deadline: Option<Instant>,
) -> Result<bool, String> {
    'smaller: loop {
        for candidate in kind.behaviour.smaller() {
            if deadline.is_some_and(|t| Instant::now() >= t) {
                return Ok(false);
            }
            if let Some(found) = shows(d, &candidate, &kind.difference.kind)? {
                kind.behaviour = candidate;
                kind.difference = found;
                continue 'smaller;
            }
        }
        return Ok(true);
    }
}

/// The difference of kind `kind` a run of `behaviour` shows, if it does.
fn shows<D: Differential>(
    d: &D,
    behaviour: &D::Behaviour,
    kind: &str,
) -> Result<Option<Difference>, String> {
    Ok(d.differences(behaviour)?
        .into_iter()
        .find(|found| found.kind == kind))
}

/// The report: the program's line, then each kind of difference with its behaviour, its two
/// sides and the scenario that replays it.
pub fn render<D: Differential>(d: &D, summary: &Summary<D::Behaviour>) -> String {
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
    // `--client swaks`: client-diff-swaks-SEED.toml.
    let flag = d.flag();
    let mode = flag.trim_start_matches('-').split(' ').next().unwrap_or("");
    for (i, kind) in summary.kinds.values().enumerate() {
        out.push_str(&format!(
            "\ndifference {} ({} behaviours{}{}{}): {}\n",
            i + 1,
            kind.count,
            if kind.confirmed {
                ""
            } else {
                ", NOT confirmed by a second run"
            },
            if kind.unfinished {
                ", shrinking stopped at the budget"
            } else {
                ""
            },
            kind.known
                .as_ref()
                .map_or(String::new(), |k| format!(", known: {}", k.id)),
            kind.difference.kind
        ));
        out.push_str(&format!("  behaviour: {}\n", kind.behaviour.describe()));
        out.push_str(&render_sides(&kind.difference));
        let name = format!("{mode}-diff-{}-{}.toml", d.name(), kind.behaviour.seed());
        out.push_str(&format!(
            "  replay: save the lines between the markers as {name}, then `smtpsim diff {} --replay {name}` (live and simulated) or `smtpsim run {name}` (simulated)\n",
            d.flag()
        ));
        out.push_str(&format!("----- {name} -----\n"));
        out.push_str(&d.scenario_text(&kind.behaviour));
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
