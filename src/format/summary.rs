//! A sweep's summary as `sweep` and `merge` print it: what ran, the verdicts, the seeds that
//! passed and failed, why it stopped early.

use crate::sweep::SweepReport;
use std::collections::BTreeSet;
use std::fmt::Write;

/// The summary of `report`. `list_failures`: also list the failing seeds (the first
/// `shown`, then a count), for a caller that did not print them as they were found.
pub fn render(report: &SweepReport, list_failures: bool, shown: usize) -> String {
    let mut out = String::new();
    let shard = report
        .shard
        .as_ref()
        .map(|s| format!(" · shard {s}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "sweep {} · faults {} · seeds {}{shard} · {} runs",
        report.scenario, report.faults, report.seeds, report.runs
    );
    let verdicts: Vec<String> = report
        .verdicts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(out, "verdicts: {}", verdicts.join(", "));
    let failing: BTreeSet<u64> = report.violations.iter().map(|v| v.seed).collect();
    let _ = writeln!(
        out,
        "seeds passed: {}, failed: {}",
        report.passed,
        failing.len()
    );
    if list_failures {
        let mut seeds_shown = BTreeSet::new();
        for v in &report.violations {
            if !seeds_shown.contains(&v.seed) && seeds_shown.len() == shown {
                break;
            }
            seeds_shown.insert(v.seed);
            let _ = writeln!(
                out,
                "  seed {}: {}: {}\n    replay: {}",
                v.seed, v.invariant, v.detail, v.replay
            );
        }
        if failing.len() > seeds_shown.len() {
            let _ = writeln!(
                out,
                "  and {} more failing seeds (every one is in --json, --junit and --report)",
                failing.len() - seeds_shown.len()
            );
        }
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(out, "incomplete: {why}; {} seeds ran", report.runs);
    }
    out
}
