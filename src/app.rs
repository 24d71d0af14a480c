//! The subcommands behind the `smtpsim` binary: load, run, print, and the exit code.
//!
//! Exit codes: [`EXIT_OK`] every invariant held; [`EXIT_VIOLATION`] an invariant was violated
//! (or some seed of a sweep failed); [`EXIT_BAD_INPUT`] bad input (also clap's code for an
//! unknown flag).

use crate::cli::{Cli, Command};
use crate::scenario::Scenario;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Exit code: every invariant held.
pub const EXIT_OK: u8 = 0;
/// Exit code: an invariant was violated (or a seed of a sweep failed).
pub const EXIT_VIOLATION: u8 = 1;
/// Exit code: bad input.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Runs one parsed command line; returns the process exit code.
pub fn execute(cli: Cli) -> u8 {
    let code = match cli.command {
        Command::Run {
            scenario,
            seed,
            faults,
            format,
            output,
            keylog,
        } => run(
            &scenario,
            seed,
            faults.as_deref(),
            format
                .or_else(|| output.as_deref().and_then(crate::format::Format::of_file))
                .unwrap_or(crate::format::Format::Text),
            output.as_deref(),
            keylog.as_deref(),
        ),
        Command::Sweep {
            scenario,
            seeds,
            faults,
            jobs,
            shard,
            json,
            junit,
            report,
            fail_fast,
            max_fail,
            progress_interval,
        } => sweep(
            &scenario,
            &seeds,
            faults.as_deref(),
            jobs,
            shard.as_deref(),
            json.as_deref(),
            SweepOptions {
                max_fail: if fail_fast { Some(1) } else { max_fail },
                progress: &progress_interval,
                junit: junit.as_deref(),
                report: report.as_deref(),
            },
        ),
        Command::Merge {
            reports,
            json,
            junit,
            report,
        } => merge(
            &reports,
            json.as_deref(),
            junit.as_deref(),
            report.as_deref(),
        ),
        Command::Shrink {
            scenario,
            seed,
            faults,
        } => shrink(&scenario, seed, faults.as_deref()),
        Command::Plan {
            scenario,
            seed,
            faults,
        } => plan(&scenario, seed, faults.as_deref()),
        Command::Bench {
            scenario,
            runs,
            first_seed,
            faults,
            jobs,
        } => bench(&scenario, runs.max(1), first_seed, faults.as_deref(), &jobs),
        Command::Serve {
            listen,
            profile,
            scenario,
            set,
            maildir,
            faults,
            seed,
            format,
            record,
            record_exact,
            max_connections,
            threads,
            tls,
            postconf,
        } => serve(
            listen,
            profile,
            scenario.as_deref(),
            &set,
            maildir,
            faults.as_deref(),
            seed,
            (record, record_exact),
            format,
            max_connections,
            threads,
            &tls,
            &postconf,
        ),
        Command::Proxy {
            upstream,
            listen,
            profile,
            scenario,
            no_probe,
            set,
            format,
            max_connections,
            threads,
        } => proxy(
            listen,
            upstream,
            (profile, scenario.as_deref()),
            &set,
            format,
            max_connections,
            !no_probe,
            threads,
        ),
        Command::Check {
            sims,
            accept,
            snapshots,
        } => check(sims, accept, &snapshots),
        Command::Soak {
            sims,
            seeds,
            faults,
            jobs,
        } => soak(sims, &seeds, &faults, jobs),
        Command::Diff(args) => diff(args),
        Command::New { name, from } => new(&name, &from),
        Command::List { preset: None } => {
            for (kind, name, about) in crate::profile::catalogue() {
                println!("{kind:<12} {name:<16} {about}");
            }
            for (name, text) in crate::catalogue::SIMS {
                let about = Scenario::parse(text, name)
                    .map(|s| s.about)
                    .unwrap_or_default();
                println!("{:<12} {name:<16} {about}", "sim");
            }
            println!(
                "\nsmtpsim list PRESET: every knob of that preset, with its meaning and value"
            );
            println!("smtpsim run SIM, smtpsim new NAME --from SIM: the sims are built in");
            Ok(EXIT_OK)
        }
        Command::List { preset: Some(name) } => crate::format::knobs::render(&name).map(|text| {
            print!("{text}");
            EXIT_OK
        }),
    };
    code.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        EXIT_BAD_INPUT
    })
}

/// `smtpsim new NAME --from SIM`: the scenario `from` (built in or a file) written as NAME.toml
/// with its name changed, never over an existing file.
fn new(name: &str, from: &str) -> Result<u8, String> {
    let text = match std::fs::read_to_string(from) {
        Ok(text) => text,
        Err(_) => crate::catalogue::find(from)
            .map(|(_, text)| text.to_string())
            .ok_or_else(|| {
                format!("--from {from}: no such file, and no built-in sim of that name (`smtpsim list` names them)")
            })?,
    };
    // Checked before writing: what is written must load.
    Scenario::parse(&text, from).map_err(|e| e.to_string())?;
    let file = if name.ends_with(".toml") {
        name.to_string()
    } else {
        format!("{name}.toml")
    };
    let stem = Path::new(&file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = format!(
        "# Written by `smtpsim new {name} --from {from}`. Every knob of a preset, with its meaning\n\
         # and value: `smtpsim list PRESET`. Run it: `smtpsim run {file}`.\n"
    );
    let mut named = false;
    for line in text.lines() {
        if !named && line.trim_start().starts_with("name") && line.contains('=') {
            out.push_str(&format!("name = {}\n", toml::Value::String(stem.clone())));
            named = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .map_err(|e| format!("{file}: {e} (smtpsim new never overwrites a file)"))?;
    std::io::Write::write_all(&mut f, out.as_bytes()).map_err(|e| format!("{file}: {e}"))?;
    println!("wrote {file} (from {from}); run it: smtpsim run {file}");
    Ok(EXIT_OK)
}

/// The sims named, or every `sims/*.toml`.
fn sims_or_all(sims: Vec<PathBuf>) -> Result<Vec<PathBuf>, String> {
    if !sims.is_empty() {
        return Ok(sims);
    }
    if !Path::new("sims").is_dir() {
        // Outside the project: the built-in sims, by the names they have in it.
        return Ok(crate::catalogue::SIMS
            .iter()
            .map(|(name, _)| PathBuf::from(format!("sims/{name}.toml")))
            .collect());
    }
    let mut all: Vec<PathBuf> = std::fs::read_dir("sims")
        .map_err(|e| format!("sims/: {e} (run from the project, or name the sims)"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    all.sort();
    Ok(all)
}

fn soak(sims: Vec<PathBuf>, seeds: &str, faults: &str, jobs: usize) -> Result<u8, String> {
    let sims = sims_or_all(sims)?;
    let range = crate::sweep::parse_seeds(seeds)?;
    if range.is_empty() {
        return Err(format!(
            "--seeds {seeds}: the range is empty; give A..B with A < B"
        ));
    }
    let scenarios = sims
        .iter()
        .map(|sim| load(sim, Some(faults)).map(|s| (sim.display().to_string(), s)))
        .collect::<Result<Vec<_>, _>>()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = if jobs == 0 { cores } else { jobs };
    println!(
        "soak · {} sims · seeds {seeds} · faults {faults} · {jobs} jobs",
        scenarios.len()
    );
    let (mut runs, mut findings, mut failures) = (0, 0, Vec::new());
    for (file, scenario) in &scenarios {
        let report = crate::sweep::sweep(
            scenario,
            file,
            range.clone(),
            jobs,
            None,
            &crate::sweep::quiet,
        );
        let failed: Vec<_> = report
            .violations
            .iter()
            .filter(|v| crate::sweep::is_failure_of_the_simulator(v))
            .collect();
        let found = report.violations.len() - failed.len();
        println!(
            "{:<44} {:>7} runs · {:>6} findings · {} failures",
            file,
            report.runs,
            found,
            failed.len()
        );
        runs += report.runs;
        findings += found;
        failures.extend(failed.into_iter().cloned());
    }
    println!(
        "{runs} runs · {findings} findings about the mail · {} failures of the simulator",
        failures.len()
    );
    for f in &failures {
        println!(
            "  {} seed {}: {}\n    replay: {}",
            f.invariant, f.seed, f.detail, f.replay
        );
    }
    Ok(if failures.is_empty() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    })
}

fn check(sims: Vec<PathBuf>, accept: bool, snapshots: &Path) -> Result<u8, String> {
    let sims = sims_or_all(sims)?;
    if !snapshots.is_dir() {
        if !accept {
            return Err(format!(
                "--snapshots {}: not a directory (`smtpsim check --accept` writes the first \
                 snapshots there)",
                snapshots.display()
            ));
        }
        std::fs::create_dir_all(snapshots)
            .map_err(|e| format!("--snapshots {}: {e}", snapshots.display()))?;
    }
    let colour = std::io::stdout().is_terminal();
    let (mut same, mut differ) = (0, 0);
    for sim in &sims {
        let (scenario, finding) =
            crate::check::check(sim, snapshots).map_err(|e| format!("{}: {e}", sim.display()))?;
        let text = match finding {
            crate::check::Finding::Same => {
                same += 1;
                println!("ok       {}", sim.display());
                continue;
            }
            crate::check::Finding::New { text } => {
                println!("new      {} (no snapshot yet)", sim.display());
                text
            }
            crate::check::Finding::Changed { old, new } => {
                println!("changed  {}", sim.display());
                print!("{}", crate::check::unified_diff(&old, &new, colour));
                new
            }
        };
        if accept {
            crate::check::accept(sim, snapshots, &scenario, &text)?;
            println!(
                "         accepted: {}",
                crate::check::snapshot_path(snapshots, sim).display()
            );
        } else {
            differ += 1;
        }
    }
    println!(
        "{same} unchanged, {differ} differ{}",
        if accept { " (changes accepted)" } else { "" }
    );
    Ok(if differ == 0 { EXIT_OK } else { EXIT_VIOLATION })
}

/// Loads a scenario, under another fault preset if asked. Errors are bad input.
fn load(path: &Path, faults: Option<&str>) -> Result<Scenario, String> {
    let scenario = Scenario::load(path).map_err(|e| e.to_string())?;
    print_server_notes(path, &scenario);
    match faults {
        Some(name) => scenario.with_fault_profile(name),
        None => Ok(scenario),
    }
}

/// A scenario for one side of a live session (`serve` or `proxy --scenario`): `name` and
/// `[client]` may be left out.
fn load_side(path: &Path) -> Result<Scenario, String> {
    let scenario = Scenario::load_side(path).map_err(|e| e.to_string())?;
    print_server_notes(path, &scenario);
    Ok(scenario)
}

/// What `[server] postconf` did not model, on stderr.
fn print_server_notes(path: &Path, scenario: &Scenario) {
    for note in &scenario.server_notes {
        eprintln!("{}: {note}", path.display());
    }
}

fn faults_flag(scenario: &Scenario) -> String {
    if scenario.faults == "none" {
        String::new()
    } else {
        format!(" --faults {}", scenario.faults)
    }
}

fn run(
    path: &Path,
    seed: Option<u64>,
    faults: Option<&str>,
    format: crate::format::Format,
    output: Option<&Path>,
    keylog: Option<&Path>,
) -> Result<u8, String> {
    let scenario = load(path, faults)?;
    let seed = seed
        .or_else(|| scenario.seeds.first().copied())
        .unwrap_or(0);
    let replay = crate::seeds::replay_command(&path.display().to_string(), seed, &scenario.faults);
    let outcome = if format == crate::format::Format::Pcap {
        crate::sim::run_captured(&scenario, seed)
    } else {
        crate::sim::run(&scenario, seed)
    };
    let result = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}\nreplay: {replay}");
            return Ok(EXIT_VIOLATION);
        }
    };
    if let Some(file) = keylog {
        let lines: String = result.keylog.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(file, lines).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    let bytes = crate::format::render(format, &result, &path.display().to_string());
    match output {
        Some(file) => std::fs::write(file, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?,
        None if format == crate::format::Format::Pcap && std::io::stdout().is_terminal() => {
            return Err("a pcap is binary: give --output FILE or redirect stdout".into());
        }
        None => {
            std::io::Write::write_all(&mut std::io::stdout(), &bytes).map_err(|e| e.to_string())?
        }
    }
    if result.report.passed() {
        Ok(EXIT_OK)
    } else {
        eprintln!("invariant violated; replay: {replay}");
        Ok(EXIT_VIOLATION)
    }
}

/// How a sweep stops early and what else it writes.
struct SweepOptions<'a> {
    /// Stop after this many failing seeds.
    max_fail: Option<usize>,
    /// Without a terminal, a progress line on stderr this often (`--progress-interval`).
    progress: &'a str,
    junit: Option<&'a Path>,
    report: Option<&'a Path>,
}

fn sweep(
    path: &Path,
    seeds: &str,
    faults: Option<&str>,
    jobs: Option<usize>,
    shard: Option<&str>,
    json: Option<&Path>,
    options: SweepOptions<'_>,
) -> Result<u8, String> {
    if options.max_fail == Some(0) {
        return Err(
            "--max-fail 0: a sweep stopped before its first failure would pass unchecked; \
             give N >= 1, or leave --max-fail out for no limit"
                .into(),
        );
    }
    let progress = crate::proto::dur::Dur::parse(options.progress)
        .map_err(|e| format!("--progress-interval: {e}"))?
        .0;
    let scenario = load(path, faults)?;
    let range = crate::sweep::parse_seeds(seeds)?;
    let shard = shard.map(crate::sweep::Shard::parse).transpose()?;
    let owned = range
        .clone()
        .filter(|s| shard.is_none_or(|sh| sh.owns(*s)))
        .count();
    if owned == 0 {
        return Err(match shard {
            None => format!("--seeds {seeds}: the range is empty; give A..B with A < B"),
            Some(sh) => format!(
                "--seeds {seeds} --shard {}/{}: this shard has no seeds",
                sh.index, sh.count
            ),
        });
    }
    // The report's path is checked before any work, not after the whole sweep.
    for (flag, out) in [
        ("--json", json),
        ("--junit", options.junit),
        ("--report", options.report),
    ] {
        if let Some(out) = out {
            std::fs::File::create(out)
                .map_err(|e| format!("{flag} {}: cannot write: {e}", out.display()))?;
        }
    }
    // --jobs 0 (or none): one job per core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = jobs.filter(|j| *j > 0).unwrap_or(cores);
    let watcher = crate::progress::Watcher::new(owned, options.max_fail);
    let interrupted = watcher.stop_on_ctrl_c();
    let file = path.display().to_string();
    let mut report = std::thread::scope(|scope| {
        scope.spawn(|| watcher.print_lines(progress));
        let report =
            crate::sweep::sweep(&scenario, &file, range, jobs, shard, &|p| watcher.seen(p));
        watcher.finish();
        report
    });
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        report.stopped = Some("interrupted".into());
    } else if (report.runs as usize) < owned {
        report.stopped = Some(format!(
            "stopped after {} failing seeds (--fail-fast / --max-fail)",
            watcher.failed()
        ));
    }
    // Failing seeds were printed as they were found (stderr): the summary counts them.
    print!(
        "{}",
        crate::format::summary::render(&report, false, crate::progress::SHOWN_FAILURES)
    );
    if let Some(json) = json {
        write_json(&report, Some(json))?;
    }
    if let Some(html) = options.report {
        let page = crate::format::report::render(&scenario, &file, &report);
        std::fs::write(html, page).map_err(|e| format!("--report {}: {e}", html.display()))?;
        eprintln!("report: {}", html.display());
    }
    if let Some(junit) = options.junit {
        let xml = crate::format::junit::render(&report, &watcher.ran());
        std::fs::write(junit, xml).map_err(|e| format!("--junit {}: {e}", junit.display()))?;
    }
    // An interrupted sweep did not check every seed: not a pass.
    Ok(
        if report.violations.is_empty() && report.stopped.is_none() {
            EXIT_OK
        } else {
            EXIT_VIOLATION
        },
    )
}

fn write_json(report: &crate::sweep::SweepReport, path: Option<&Path>) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())? + "\n";
    match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn merge(
    reports: &[std::path::PathBuf],
    json: Option<&Path>,
    junit: Option<&Path>,
    html: Option<&Path>,
) -> Result<u8, String> {
    let mut parts = Vec::new();
    let mut names = Vec::new();
    for path in reports {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let report: crate::sweep::SweepReport = serde_json::from_str(&text)
            .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?;
        parts.push(report);
        names.push(path.display().to_string());
    }
    let merged = crate::sweep::merge(&parts, &names)?;
    // The HTML report needs the scenario: read before anything is written.
    let scenario = match html {
        Some(_) => Some(load(Path::new(&merged.scenario), Some(&merged.faults))?),
        None => None,
    };
    if let Some(json) = json {
        write_json(&merged, Some(json))?;
    }
    if let Some(junit) = junit {
        // A merged report is complete: every seed of the range ran.
        let ran: Vec<u64> = crate::sweep::parse_seeds(&merged.seeds)?.collect();
        let xml = crate::format::junit::render(&merged, &ran);
        std::fs::write(junit, xml).map_err(|e| format!("--junit {}: {e}", junit.display()))?;
    }
    if let (Some(html), Some(scenario)) = (html, &scenario) {
        let page = crate::format::report::render(scenario, &merged.scenario, &merged);
        std::fs::write(html, page).map_err(|e| format!("--report {}: {e}", html.display()))?;
        eprintln!("report: {}", html.display());
    }
    print!(
        "{}",
        crate::format::summary::render(&merged, true, crate::progress::SHOWN_FAILURES)
    );
    Ok(if merged.violations.is_empty() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    })
}

fn shrink(path: &Path, seed: u64, faults: Option<&str>) -> Result<u8, String> {
    let scenario = load(path, faults)?;
    match crate::shrink::shrink(&scenario, seed) {
        Err(e) => {
            eprintln!("error: {e}");
            Ok(EXIT_VIOLATION)
        }
        Ok(None) => {
            println!(
                "seed {seed} passes{}: nothing to shrink",
                faults_flag(&scenario)
            );
            Ok(EXIT_OK)
        }
        Ok(Some(s)) => {
            println!(
                "# seed {seed} breaks {} with {} fault events; {} still do ({} runs)",
                s.invariant,
                s.original.events.len(),
                s.minimal.events.len(),
                s.runs
            );
            println!(
                "# paste into {} (replacing its [faults]) and run: {}",
                path.display(),
                crate::seeds::replay_command(&path.display().to_string(), seed, "none")
            );
            print!("{}", s.minimal.to_toml(&scenario.fault_config));
            Ok(EXIT_VIOLATION)
        }
    }
}

fn plan(path: &Path, seed: u64, faults: Option<&str>) -> Result<u8, String> {
    let scenario = load(path, faults)?;
    let plan = crate::sim::plan_for(&scenario, seed);
    println!(
        "# fault plan of seed {seed}{} for {}",
        faults_flag(&scenario),
        path.display()
    );
    print!("{}", plan.to_toml(&scenario.fault_config));
    Ok(EXIT_OK)
}

fn bench(
    path: &Path,
    runs: usize,
    first_seed: u64,
    faults: Option<&str>,
    jobs: &[usize],
) -> Result<u8, String> {
    let scenario = load(path, faults)?;
    let seeds = first_seed..first_seed + runs as u64;
    if !jobs.is_empty() {
        println!(
            "scenario {} · faults {} · sweep of seeds {}..{}",
            scenario.name, scenario.faults, seeds.start, seeds.end
        );
        let mut first_rate = None;
        for &j in jobs {
            let start = std::time::Instant::now();
            let report = crate::sweep::sweep(
                &scenario,
                &path.display().to_string(),
                seeds.clone(),
                j.max(1),
                None,
                &crate::sweep::quiet,
            );
            let wall = start.elapsed().as_secs_f64();
            let rate = report.runs as f64 / wall;
            let speedup = first_rate
                .map(|r: f64| format!(" · {:.2}x the first", rate / r))
                .unwrap_or_default();
            first_rate.get_or_insert(rate);
            println!(
                "jobs {j}: {wall:.2} s wall · {rate:.1} sessions/s · {} passed{speedup}",
                report.passed
            );
        }
        return Ok(EXIT_OK);
    }
    let r = crate::bench::bench(&scenario, first_seed, runs).map_err(|e| e.to_string())?;
    let ratio = r.median_virtual.as_secs_f64() / r.median_wall.as_secs_f64();
    println!(
        "scenario {} · faults {} · {} sessions (seeds {}..{}) · one thread",
        scenario.name, scenario.faults, r.runs, seeds.start, seeds.end
    );
    println!(
        "wall per session: median {:.2} ms (min {:.2}, max {:.2})",
        ms(r.median_wall),
        ms(r.min_wall),
        ms(r.max_wall)
    );
    println!(
        "virtual per session: median {:.3} s",
        r.median_virtual.as_secs_f64()
    );
    println!(
        "virtual/wall: {ratio:.0}x · {:.1} sessions/s",
        r.sessions_per_sec
    );
    println!(
        "engine per session: median {} turns, {} egress passes",
        r.median_turns, r.median_passes
    );
    Ok(EXIT_OK)
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `--set k=v` pairs as a TOML table: values that parse as TOML stay typed, others are strings.
/// `--set` pairs read as the section `T` of `header`; a type error names the knob and its form.
fn set_section<T: serde::de::DeserializeOwned>(text: &str, header: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|e| {
        let named = e
            .span()
            .and_then(|span| crate::knobs::knob_at(text, span.start))
            .and_then(|(_, key)| {
                let knobs = crate::scenario::section_knobs(header)?;
                crate::knobs::type_error(knobs, &key, e.message())
            });
        format!("--set {}", named.unwrap_or_else(|| e.message().to_string()))
    })
}

fn overrides_toml(pairs: &[String]) -> Result<String, String> {
    let mut text = String::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--set {pair:?}: expected KNOB=VALUE"))?;
        let key = key.trim();
        let typed = format!("{key} = {value}\n");
        if toml::from_str::<toml::Table>(&typed).is_ok() {
            text.push_str(&typed);
        } else {
            text.push_str(&format!(
                "{key} = {}\n",
                toml::Value::String(value.to_string())
            ));
        }
    }
    Ok(text)
}

/// The runtime live mode runs on: one thread (every session on it, no hand-offs between
/// threads: the least work per message), or `threads` worker threads.
fn live_runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        // Threads a session's fsync may block instead of a worker (serve --maildir): a few
        // fsyncs at once for the file system to commit together; every thread more is a malloc
        // arena more (smtp-source -s 200 -m 20000: peak RSS 16.6 MB with 4, 21-25 MB with 16).
        builder.worker_threads(threads).max_blocking_threads(4);
        builder
    };
    builder.enable_all().build().map_err(|e| e.to_string())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `serve`'s server configuration: the preset `profile` with the `--set` pairs applied, and
/// the overrides as a table (for `--record`).
/// With `--postconf`, the file configures the profile before the `--set` pairs apply; its
/// notes go to stderr and its STARTTLS setting is returned.
pub fn serve_config(
    profile: &str,
    set: &[String],
    postconf: &crate::cli::Postconf,
) -> Result<ServeConfig, String> {
    let mut server = crate::profile::ServerConfig::preset(profile)?;
    let mut tls = None;
    if let Some(path) = &postconf.postconf {
        let from = crate::profile::from_main_cf::load(path, server, postconf.strict)?;
        for note in from.notes() {
            eprintln!("{note}");
        }
        server = from.server;
        tls = Some(from.tls);
    }
    let (server, overrides) = serve_config_from(server, set)?;
    Ok((server, overrides, tls))
}

/// As [`serve_config`], from a server config already built (a scenario's).
fn serve_config_from(
    mut server: crate::profile::ServerConfig,
    set: &[String],
) -> Result<(crate::profile::ServerConfig, toml::Table), String> {
    let overrides = overrides_toml(set)?;
    let section: crate::scenario::ServerSection = set_section(&overrides, "server")?;
    let mut server_overrides: toml::Table =
        toml::from_str(&overrides).map_err(|e| format!("--set: {}", e.message()))?;
    section.apply(&mut server);
    crate::profile::rules::check_server(&server, &section.set_knobs())
        .map_err(|(_, message)| format!("--set {message}"))?;
    // Out of the box, a test server takes whatever it is sent (as smtp-sink and Mailpit do);
    // Postfix's relay and user checks start once the local mail is named.
    if server.mailboxes.is_empty() && server.local_domains.is_empty() {
        server.local_domains = vec!["*".to_string()];
        server_overrides.insert(
            "local_domains".into(),
            toml::Value::Array(vec![toml::Value::String("*".into())]),
        );
    }
    Ok((server, server_overrides))
}

/// `serve`'s server configuration, its `--set` pairs as a table (for recordings), and the
/// STARTTLS setting of a `--postconf` file.
pub type ServeConfig = (
    crate::profile::ServerConfig,
    toml::Table,
    Option<crate::profile::from_main_cf::Tls>,
);

/// `proxy`'s interceptor configuration: the preset `profile` with the `--set` pairs applied.
pub fn proxy_config(
    profile: &str,
    set: &[String],
) -> Result<crate::profile::InterceptorConfig, String> {
    proxy_config_from(crate::profile::InterceptorConfig::preset(profile)?, set)
}

/// As [`proxy_config`], from an interceptor config already built (a scenario's).
fn proxy_config_from(
    mut interceptor: crate::profile::InterceptorConfig,
    set: &[String],
) -> Result<crate::profile::InterceptorConfig, String> {
    let section: crate::scenario::InterceptorSection =
        set_section(&overrides_toml(set)?, "interceptor")?;
    section.apply(&mut interceptor);
    crate::profile::rules::check_interceptor(&interceptor, &section.set_knobs())
        .map_err(|(_, message)| format!("--set {message}"))?;
    Ok(interceptor)
}

#[allow(clippy::too_many_arguments)]
fn serve(
    listen: String,
    profile: String,
    scenario: Option<&Path>,
    set: &[String],
    maildir: Option<std::path::PathBuf>,
    faults: Option<&str>,
    seed: u64,
    (record, record_exact): (Option<std::path::PathBuf>, bool),
    format: crate::format::LiveFormat,
    max_connections: usize,
    threads: Option<usize>,
    tls: &crate::cli::ServeTls,
    postconf: &crate::cli::Postconf,
) -> Result<u8, String> {
    // An fsync per message holds its thread: with a Maildir, one thread per core by default.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = threads.unwrap_or(if maildir.is_some() { cores } else { 1 });
    let mut scenario_plan = None;
    let (profile, server, server_overrides, postconf_tls) = match scenario {
        None => serve_config(&profile, set, postconf)
            .map(|(server, overrides, tls)| (profile, server, overrides, tls))?,
        Some(_) if postconf.postconf.is_some() => {
            return Err(
                "--postconf with --scenario: set postconf in the scenario's [server] section"
                    .into(),
            )
        }
        Some(path) => {
            let scenario = load_side(path)?;
            // The scenario's faults (its preset's plan for this seed and its [[faults.event]]s)
            // unless --faults names others.
            scenario_plan = Some(crate::sim::plan_for(&scenario, seed));
            let mut table: toml::Table = toml::from_str(&scenario.source).unwrap_or_default();
            let mut overrides = match table.remove("server") {
                Some(toml::Value::Table(t)) => t,
                _ => toml::Table::new(),
            };
            overrides.remove("profile");
            let (server, set_overrides) = serve_config_from(scenario.server, set)?;
            overrides.extend(set_overrides);
            (scenario.server_profile, server, overrides, None)
        }
    };
    let (cert, key) = match &postconf_tls {
        Some(crate::profile::from_main_cf::Tls::Files(cert, key)) if tls.cert.is_none() => {
            (Some(cert.as_path()), Some(key.as_path()))
        }
        _ => (tls.cert.as_deref(), tls.key.as_deref()),
    };
    let (tls, tls_line) = crate::live::tls::server_setup(tls.tls, cert, key, &server.hostname)?;

    let mut plan = match (faults, scenario_plan) {
        (Some(name), _) => {
            let config = crate::fault::FaultConfig::preset(name)?;
            let mut rng = crate::seeds::rng(seed, crate::seeds::Stream::Faults);
            config.plan(&mut rng, false)
        }
        (None, Some(plan)) => plan,
        (None, None) => crate::fault::FaultPlan::default(),
    };
    // Only what a live server can do to its own connections (no timed network events).
    plan.events.retain(|e| e.at().is_none());
    let opts = crate::live::ServeOptions {
        listen,
        profile,
        server,
        maildir,
        faults: plan,
        seed,
        record,
        record_exact,
        server_overrides,
        format,
        max_connections,
        tls,
        tls_about: tls_line,
    };
    live_runtime(threads)?
        .block_on(crate::live::serve(opts, shutdown_signal()))
        .map_err(|e| e.to_string())?;
    Ok(EXIT_OK)
}

fn diff(args: crate::cli::DiffArgs) -> Result<u8, String> {
    if let Some(name) = args.client.as_deref() {
        return client_diff(name, &args);
    }
    if let Some(name) = args.interceptor.as_deref() {
        return interceptor_diff(name, &args);
    }
    if args.print {
        for seed in args.seed..args.seed.saturating_add(args.sessions) {
            println!("# smtpsim diff session {seed}");
            print!(
                "{}",
                crate::diff::script::render(&crate::diff::gen::session(seed))
            );
        }
        return Ok(EXIT_OK);
    }
    let mut server = crate::diff::reference_config();
    let mut tls = true;
    if let Some(path) = &args.postconf.postconf {
        let mut base = crate::profile::ServerConfig::preset("postfix")?;
        // The reference's local users (tests/parity/postfix-instances.sh).
        base.mailboxes = crate::diff::gen::LOCAL_USERS
            .iter()
            .map(|u| u.to_string())
            .collect();
        let from = crate::profile::from_main_cf::load(path, base, args.postconf.strict)?;
        for note in from.notes() {
            eprintln!("{note}");
        }
        server = from.server;
        // The reference's diff port runs without error delays, as reference_config does.
        server.error_sleep = crate::proto::dur::Dur::default();
        tls = from.tls != crate::profile::from_main_cf::Tls::Off;
    }
    let section: crate::scenario::ServerSection =
        set_section(&overrides_toml(&args.set)?, "server")?;
    section.apply(&mut server);
    let budget = parse_budget(args.budget.as_deref())?;
    let opts = crate::diff::DiffOptions {
        against: args.against.unwrap_or_default(),
        server,
        seed: args.seed,
        sessions: args.sessions,
        jobs: args.jobs.max(1),
        budget,
        shrink: !args.no_shrink,
        tls,
    };
    let summary = crate::diff::run(&opts)?;
    Ok(if summary.code.is_empty() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    })
}

#[allow(clippy::too_many_arguments)]
fn proxy(
    listen: String,
    upstream: String,
    (profile, scenario): (String, Option<&Path>),
    set: &[String],
    format: crate::format::LiveFormat,
    max_connections: usize,
    probe: bool,
    threads: usize,
) -> Result<u8, String> {
    let (profile, interceptor) = match scenario {
        None => {
            let interceptor = proxy_config(&profile, set)?;
            (profile, interceptor)
        }
        Some(path) => {
            let (name, cfg) = load_side(path)?.interceptor.ok_or_else(|| {
                format!(
                    "--scenario {}: the scenario has no [interceptor] section",
                    path.display()
                )
            })?;
            (name, proxy_config_from(cfg, set)?)
        }
    };
    let opts = crate::live::ProxyOptions {
        listen,
        upstream,
        profile,
        interceptor,
        format,
        max_connections,
        probe,
    };
    live_runtime(threads)?
        .block_on(crate::live::proxy(opts, shutdown_signal()))
        .map_err(|e| e.to_string())?;
    Ok(EXIT_OK)
}

/// `smtpsim diff --client NAME`.
fn client_diff(name: &str, args: &crate::cli::DiffArgs) -> Result<u8, String> {
    use crate::diff::client::{self, programs};
    let program = programs::by_name(name)?;
    let path = programs::locate(program, args.program.as_deref())?;
    let budget = parse_budget(args.budget.as_deref())?;
    let opts = client::ClientDiffOptions {
        program,
        path,
        profile: args
            .profile
            .clone()
            .unwrap_or_else(|| program.profile().to_string()),
        seed: args.seed,
        behaviours: args.behaviours,
        jobs: args.jobs,
        budget,
        shrink: !args.no_shrink,
    };
    let version = program.version(&opts.path);
    if let Err(skip) = opts.profile_exists() {
        println!("{version}: SKIPPED: {skip}");
        return Ok(EXIT_OK);
    }
    if let Some(file) = &args.replay {
        let (sides, differences) = client::replay(&opts, file)?;
        let sides = [sides.real.lines(), sides.sim.lines()];
        return Ok(print_replay(&version, file, sides, &differences));
    }
    let summary = client::run(&opts)?;
    Ok(print_summary(
        &client::render(&opts, &summary),
        summary.clean(),
    ))
}

/// Prints a differential's report; the exit code (1 unless it is clean).
fn print_summary(report: &str, clean: bool) -> u8 {
    print!("{report}");
    if clean {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

/// Prints a replayed behaviour's two sides (the real one's lines, the profile's) and their
/// differences; the exit code.
fn print_replay(
    version: &str,
    file: &Path,
    [real, profile]: [Vec<(String, String)>; 2],
    differences: &[crate::diff::client::observe::Difference],
) -> u8 {
    println!("{version}: replay of {}", file.display());
    for (side, lines) in [("real", real), ("profile", profile)] {
        println!("{side}:");
        for (k, v) in lines {
            println!("    {k}: {v}");
        }
    }
    for d in differences {
        println!("difference: {}", d.kind);
    }
    if differences.is_empty() {
        println!("no difference");
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

/// `smtpsim diff --interceptor NAME`.
fn interceptor_diff(name: &str, args: &crate::cli::DiffArgs) -> Result<u8, String> {
    use crate::diff::interceptor::{self, proxies};
    let proxy = proxies::by_name(name)?;
    let path = proxies::locate(proxy, args.program.as_deref())?;
    let opts = interceptor::InterceptorDiffOptions {
        proxy,
        path,
        preset: args
            .profile
            .clone()
            .unwrap_or_else(|| proxy.about().profile.to_string()),
        seed: args.seed,
        behaviours: args.behaviours,
        jobs: args.jobs,
        budget: parse_budget(args.budget.as_deref())?,
        shrink: !args.no_shrink,
    };
    crate::profile::InterceptorConfig::preset(&opts.preset)?;
    let version = proxy.version(&opts.path);
    if let Some(file) = &args.replay {
        let (sides, differences) = interceptor::replay(&opts, file)?;
        let sides = [sides.real.lines(), sides.sim.lines()];
        return Ok(print_replay(&version, file, sides, &differences));
    }
    let summary = interceptor::run(&opts)?;
    Ok(print_summary(
        &interceptor::render(&opts, &summary),
        summary.clean(),
    ))
}

/// `--budget`, e.g. `60s`.
fn parse_budget(text: Option<&str>) -> Result<Option<std::time::Duration>, String> {
    text.map(|text| {
        crate::proto::dur::Dur::parse(text)
            .map(Into::into)
            .map_err(|e| format!("--budget {text:?}: {e}"))
    })
    .transpose()
}
