//! The event-driven engine against the verdicts recorded on turmoil 0.7.2 before the switch
//! (tests/fixtures/turmoil-0.7.2-verdicts.json): every sim tells the same story at its seed,
//! and every fault preset's verdict table over seeds 0..1000 is the same, except the tables
//! listed with their cause in tests/fixtures/engine-differences.json.
//!
//! The preset tables take 48,000 runs: that test is `#[ignore]`d in debug builds and run by
//! `.ci/run` in release (`cargo test --release --test engine_baseline -- --ignored`).

use serde_json::Value;
use smtpsim::scenario::Scenario;
use smtpsim::sweep;
use std::collections::BTreeMap;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn load(name: &str) -> Scenario {
    let path = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Scenario::load(path.as_ref()).expect("valid scenario")
}

#[test]
fn every_sim_tells_the_same_story_at_its_seed() {
    let baseline = fixture("turmoil-0.7.2-verdicts.json");
    let known = fixture("engine-differences.json");
    let sims = baseline["sims"].as_object().expect("sims");
    assert_eq!(sims.len(), 16);
    for (name, tables) in sims {
        // A story changed on purpose is listed with its cause and its new verdicts (`runs`).
        let tables = match known["runs"].get(name.as_str()) {
            Some(changed) => {
                assert!(changed["cause"].is_array(), "{name}: say why it changed");
                changed
            }
            None => tables,
        };
        let s = load(name);
        let r = smtpsim::sim::run(&s, s.seeds[0]).expect("runs");
        let verdicts: Vec<String> = r
            .report
            .messages
            .iter()
            .map(|m| m.verdict.to_string())
            .collect();
        let expected: Vec<String> = tables["run"]["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(verdicts, expected, "{name}");
        assert_eq!(
            r.report.passed(),
            tables["run"]["passed"].as_bool().unwrap(),
            "{name}"
        );
    }
}

/// The table a sweep gives, in the fixture's shape.
fn table(report: &sweep::SweepReport) -> Value {
    let mut violations: BTreeMap<String, u64> = BTreeMap::new();
    for v in &report.violations {
        *violations.entry(v.invariant.clone()).or_default() += 1;
    }
    serde_json::json!({
        "passed": report.passed,
        "verdicts": report.verdicts,
        "violations": violations,
    })
}

use smtpsim::sweep::quiet;

#[test]
#[ignore = "48,000 runs: .ci/run runs it in release"]
fn fault_preset_tables_match_the_fixture_or_a_known_difference() {
    let baseline = fixture("turmoil-0.7.2-verdicts.json");
    let known = fixture("engine-differences.json");
    let differences = known["differences"].as_array().unwrap();
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut failures = Vec::new();
    for (name, tables) in baseline["sims"].as_object().unwrap() {
        for preset in ["lossy-network", "flaky-server", "chaos"] {
            let s = load(name).with_fault_profile(preset).expect("preset");
            let report = sweep::sweep(&s, name, 0..1000, jobs, None, &quiet);
            let now = table(&report);
            let before = &tables[preset];
            let then = serde_json::json!({
                "passed": before["passed"],
                "verdicts": before["verdicts"],
                "violations": before["violations"],
            });
            let explained = differences
                .iter()
                .find(|d| d["sim"] == name.as_str() && d["preset"] == preset);
            match explained {
                Some(d) => {
                    let expected = serde_json::json!({
                        "passed": d["passed"],
                        "verdicts": d["verdicts"],
                        "violations": d["violations"],
                    });
                    if now != expected {
                        failures.push(format!(
                            "{name} {preset}: known difference changed: now {now}, listed {expected}"
                        ));
                    }
                    if now == then {
                        failures.push(format!(
                            "{name} {preset}: listed as different but equals the fixture"
                        ));
                    }
                }
                None if now != then => failures.push(format!(
                    "{name} {preset}: unexplained difference: now {now}, turmoil 0.7.2 {then}"
                )),
                None => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Prints every sim's table per preset as JSON lines, to update
/// `tests/fixtures/engine-differences.json` after a deliberate change of story (each entry
/// then gets its cause written by hand): `cargo test --release --test engine_baseline --
/// --ignored print_current_tables --nocapture`.
#[test]
#[ignore = "a tool for updating the fixture, not a check"]
fn print_current_tables() {
    let baseline = fixture("turmoil-0.7.2-verdicts.json");
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    for name in baseline["sims"].as_object().unwrap().keys() {
        for preset in ["lossy-network", "flaky-server", "chaos"] {
            let s = load(name).with_fault_profile(preset).expect("preset");
            let report = sweep::sweep(&s, name, 0..1000, jobs, None, &quiet);
            let line = serde_json::json!({"sim": name, "preset": preset, "table": table(&report)});
            println!("TABLE {line}");
        }
    }
}
