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
        Command::Run { scenario, seed, output } => run(&scenario, seed, output.as_deref()),
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
    let seed = seed.or_else(|| scenario.seeds.first().copied()).unwrap_or(0);
    let result = match smtpsim::sim::run(&scenario, seed) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("replay: smtpsim run {} --seed {seed}", path.display());
            return EXIT_VIOLATION;
        }
    };
    let text = smtpsim::sim::render_text(&result).replace("<scenario>", &path.display().to_string());
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
        eprintln!("invariant violated; replay: smtpsim run {} --seed {seed}", path.display());
        EXIT_VIOLATION
    }
}
