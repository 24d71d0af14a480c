//! The sims of `sims/`, built into the binary: each runs by name from anywhere
//! (`smtpsim run symantec-rset`, or `sims/symantec-rset.toml` where no such file exists), and
//! `smtpsim new` starts a scenario from one. `build.rs` lists them; `tests/cli.rs` checks the
//! list against `sims/`.

/// Every built-in sim, by name (the file stem): its name and its text. The list is written
/// by `build.rs` from the files of `sims/`.
pub const SIMS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/sims.rs"));

/// The built-in sim `arg` names, if it names one: `NAME`, `NAME.toml` or `sims/NAME.toml`.
pub fn find(arg: &str) -> Option<(&'static str, &'static str)> {
    let name = arg.strip_prefix("./").unwrap_or(arg);
    let name = name.strip_prefix("sims/").unwrap_or(name);
    let name = name.strip_suffix(".toml").unwrap_or(name);
    SIMS.iter().copied().find(|(n, _)| *n == name)
}
