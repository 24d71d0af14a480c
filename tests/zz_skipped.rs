//! The run's summary of skipped tests: how many tests of this `cargo test` skipped for a missing
//! tool (Postfix, tshark, chromium, swaks), and which. Cargo runs test targets in name order,
//! so this one (`harness = false`: its output is not captured) runs after the others; it reads
//! the notes they left through `support/skip.rs`.

#[path = "support/skip.rs"]
mod skip;

use std::collections::{BTreeMap, BTreeSet};

fn main() {
    let file = skip::notes_file();
    let notes = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    let mut by_tool: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for line in notes.lines() {
        if let Some((tool, test)) = line.split_once('\t') {
            by_tool.entry(tool).or_default().insert(test);
        }
    }
    let total: usize = by_tool.values().map(BTreeSet::len).sum();
    if total == 0 {
        println!("\nskipped for a missing tool: no test");
        return;
    }
    let counts: Vec<String> = by_tool
        .iter()
        .map(|(tool, tests)| format!("{tool} {}", tests.len()))
        .collect();
    println!(
        "\nskipped for a missing tool: {total} tests ({}); .ci/run installs them",
        counts.join(", ")
    );
    for (tool, tests) in &by_tool {
        for test in tests {
            println!("  {tool}: {test}");
        }
    }
    if skip::required() {
        eprintln!("SMTPSIM_REQUIRE_TOOLS=1, yet tests skipped");
        std::process::exit(1);
    }
}
