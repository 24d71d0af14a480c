//! The `smtpsim` binary: parse the command line, dispatch, map the result to an exit code.

use clap::Parser;
use smtpsim::cli::{Cli, Command};
use smtpsim::scenario::Scenario;
use std::process::ExitCode;

/// Exit code: every invariant held.
const EXIT_OK: u8 = 0;
/// Exit code: an invariant was violated.
const EXIT_VIOLATION: u8 = 1;
/// Exit code: bad input.
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    ExitCode::from(match cli.command {
        Command::Run {
            scenario,
            seed,
            output,
        } => run(&scenario, seed, output.as_deref()),
        Command::Bench {
            scenario,
            runs,
            first_seed,
        } => bench(&scenario, runs.max(1), first_seed),
        Command::List => {
            for (kind, name, about) in smtpsim::profile::catalogue() {
                println!("{kind:<12} {name:<16} {about}");
            }
            EXIT_OK
        }
    })
}

fn run(path: &std::path::Path, seed: Option<u64>, output: Option<&std::path::Path>) -> u8 {
    let scenario = match Scenario::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let seed = seed
        .or_else(|| scenario.seeds.first().copied())
        .unwrap_or(0);
    let result = match smtpsim::sim::run(&scenario, seed) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("replay: smtpsim run {} --seed {seed}", path.display());
            return EXIT_VIOLATION;
        }
    };
    let text =
        smtpsim::sim::render_text(&result).replace("<scenario>", &path.display().to_string());
    match output {
        Some(file) => {
            if let Err(e) = std::fs::write(file, &text) {
                eprintln!("error: cannot write {}: {e}", file.display());
                return EXIT_BAD_INPUT;
            }
        }
        None => print!("{text}"),
    }
    if result.report.passed() {
        EXIT_OK
    } else {
        eprintln!(
            "invariant violated; replay: smtpsim run {} --seed {seed}",
            path.display()
        );
        EXIT_VIOLATION
    }
}

fn bench(path: &std::path::Path, runs: usize, first_seed: u64) -> u8 {
    let scenario = match Scenario::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    match smtpsim::bench::bench(&scenario, first_seed, runs) {
        Ok(r) => {
            let ratio = r.median_virtual.as_secs_f64() / r.median_wall.as_secs_f64();
            println!(
                "scenario {} · {} sessions (seeds {}..{}) · one thread",
                scenario.name,
                r.runs,
                first_seed,
                first_seed + runs as u64
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
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_VIOLATION
        }
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
