//! The `smtpsim` binary: parse the command line, run it, exit with its code (see
//! [`smtpsim::app`] for the codes).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(smtpsim::app::execute(smtpsim::cli::Cli::parse()))
}
