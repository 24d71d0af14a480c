//! Same scenario, same seed: the same bytes, every time; different seeds: different timings.

use smtpsim::scenario::Scenario;
use std::path::PathBuf;

fn sims() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sims"))
        .expect("sims/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_sim_twice_gives_identical_bytes() {
    let paths = sims();
    assert!(
        paths.len() >= 9,
        "expected the origin sims, found {}",
        paths.len()
    );
    for path in paths {
        let scenario = Scenario::load(&path).expect("valid scenario");
        for &seed in &scenario.seeds {
            let first =
                smtpsim::format::text::render(&smtpsim::sim::run(&scenario, seed).expect("runs"));
            let second =
                smtpsim::format::text::render(&smtpsim::sim::run(&scenario, seed).expect("runs"));
            assert_eq!(
                first,
                second,
                "{} seed {seed} is not deterministic",
                path.display()
            );
        }
    }
}

#[test]
fn runs_on_other_threads_match() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/symantec-rset.toml"
    ));
    let scenario = Scenario::load(&path).expect("valid scenario");
    let here = smtpsim::format::text::render(&smtpsim::sim::run(&scenario, 7).expect("runs"));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let scenario = scenario.clone();
            std::thread::spawn(move || {
                smtpsim::format::text::render(&smtpsim::sim::run(&scenario, 7).expect("runs"))
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread"), here);
    }
}

#[test]
fn the_seed_changes_the_network_timing() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/passthrough-baseline.toml"
    ));
    let scenario = Scenario::load(&path).expect("valid scenario");
    let a = smtpsim::sim::run(&scenario, 1).expect("runs");
    let b = smtpsim::sim::run(&scenario, 2).expect("runs");
    let times = |r: &smtpsim::sim::RunResult| r.events.iter().map(|e| e.at).collect::<Vec<_>>();
    assert_ne!(
        times(&a),
        times(&b),
        "seeds 1 and 2 should draw different latencies"
    );
    assert!(a.report.passed() && b.report.passed());
}
