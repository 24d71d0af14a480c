//! `smtpsim check`: snapshot review with the release binary alone. Runs each sim at its
//! pinned seeds, compares the transcripts with `snapshots/sims@<file>.snap` (the files
//! `tests/sims.rs` keeps through insta, so `cargo insta review` keeps working), prints a
//! unified diff per changed snapshot, and with `accept` writes the new ones.

use crate::scenario::Scenario;
use similar::{ChangeTag, TextDiff};
use std::path::{Path, PathBuf};

/// What checking one sim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The transcript matches its snapshot.
    Same,
    /// No snapshot yet.
    New {
        /// The transcript.
        text: String,
    },
    /// The transcript differs from its snapshot.
    Changed {
        /// The snapshot's transcript.
        old: String,
        /// The transcript now.
        new: String,
    },
}

/// The snapshot file of the sim at `sim` (`sims/x.toml` or `x` → `snapshots/sims@x.toml.snap`).
pub fn snapshot_path(snapshots: &Path, sim: &Path) -> PathBuf {
    let name = sim
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A built-in sim named without its extension has the snapshot of its file.
    let toml = if name.ends_with(".toml") { "" } else { ".toml" };
    snapshots.join(format!("sims@{name}{toml}.snap"))
}

/// Every seed's transcript of a sim, as the snapshot holds them.
pub fn transcript(scenario: &Scenario) -> Result<String, String> {
    transcript_of(&scenario.seeds, |seed| crate::sim::run(scenario, seed))
}

/// The transcripts of `seeds`, each run by `run`, as a snapshot holds them.
pub(crate) fn transcript_of(
    seeds: &[u64],
    run: impl Fn(u64) -> Result<crate::sim::RunResult, crate::sim::SimError>,
) -> Result<String, String> {
    let mut text = String::new();
    for &seed in seeds {
        let result = run(seed).map_err(|e| format!("seed {seed}: {e}"))?;
        text.push_str(&crate::format::text::render(&result));
        text.push('\n');
    }
    Ok(text)
}

/// The transcript part of a snapshot file (after insta's header).
fn snapshot_body(file: &str) -> &str {
    let body = file
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(file, |(_, body)| body);
    body.trim_end()
}

/// Compares the sim at `sim` with its snapshot.
pub fn check(sim: &Path, snapshots: &Path) -> Result<(Scenario, Finding), String> {
    let scenario = Scenario::load(sim).map_err(|e| e.to_string())?;
    let new = transcript(&scenario)?;
    let finding = match std::fs::read_to_string(snapshot_path(snapshots, sim)) {
        Err(_) => Finding::New { text: new },
        Ok(file) if snapshot_body(&file) == new.trim_end() => Finding::Same,
        Ok(file) => Finding::Changed {
            old: snapshot_body(&file).to_string(),
            new: new.trim_end().to_string(),
        },
    };
    Ok((scenario, finding))
}

/// Writes `text` as the snapshot of `sim`, in insta's format. An existing snapshot keeps its
/// header; a new one names the test that keeps it in this project (`tests/sims.rs`, when run
/// from the project) or else `smtpsim check` and the sim as given.
pub fn accept(sim: &Path, snapshots: &Path, scenario: &Scenario, text: &str) -> Result<(), String> {
    let path = snapshot_path(snapshots, sim);
    let header = match std::fs::read_to_string(&path) {
        Ok(old) => old
            .strip_prefix("---\n")
            .and_then(|rest| rest.split_once("\n---\n"))
            .map(|(header, _)| header.to_string()),
        Err(_) => None,
    };
    let header = header.unwrap_or_else(|| {
        let description = scenario.about.replace('\\', "\\\\").replace('"', "\\\"");
        let file = sim
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if Path::new("tests/sims.rs").exists() {
            format!(
                "source: tests/sims.rs\ndescription: \"{description}\"\ninput_file: sims/{file}"
            )
        } else {
            format!(
                "source: smtpsim check\ndescription: \"{description}\"\ninput_file: {}",
                sim.display()
            )
        }
    });
    let file = format!("---\n{header}\n---\n{}\n", text.trim_end());
    std::fs::write(&path, file).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A unified diff of two transcripts, three lines of context, coloured if `colour`.
pub fn unified_diff(old: &str, new: &str, colour: bool) -> String {
    let diff = TextDiff::from_lines(old, new);
    let mut out = String::new();
    for group in diff.grouped_ops(3) {
        let first = &group[0];
        let last = &group[group.len() - 1];
        let (o, n) = (first.old_range().start, first.new_range().start);
        let (oe, ne) = (last.old_range().end, last.new_range().end);
        out.push_str(&paint(
            &format!("@@ -{},{} +{},{} @@\n", o + 1, oe - o, n + 1, ne - n),
            "36",
            colour,
        ));
        for op in group {
            for change in diff.iter_changes(&op) {
                let (sign, code) = match change.tag() {
                    ChangeTag::Delete => ('-', "31"),
                    ChangeTag::Insert => ('+', "32"),
                    ChangeTag::Equal => (' ', ""),
                };
                let line = format!("{sign}{}", change.value());
                let line = if line.ends_with('\n') {
                    line
                } else {
                    line + "\n"
                };
                out.push_str(&paint(&line, code, colour));
            }
        }
    }
    out
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour && !code.is_empty() {
        format!("\x1b[{code}m{}\x1b[0m\n", text.trim_end_matches('\n'))
    } else {
        text.to_string()
    }
}
