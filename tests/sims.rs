//! Every scenario in sims/ at each of its pinned seeds, as an insta snapshot in snapshots/.
//! Kept in its own test binary: insta's glob! collector is process-global.

use smtpsim::scenario::Scenario;

#[test]
fn sims() {
    insta::glob!("../sims", "*.toml", |path| {
        let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !scenario.seeds.is_empty(),
            "{}: pin at least one seed",
            path.display()
        );
        let mut text = String::new();
        for &seed in &scenario.seeds {
            let result = smtpsim::sim::run(&scenario, seed)
                .unwrap_or_else(|e| panic!("{} seed {seed}: {e}", path.display()));
            let mut broken: Vec<String> = result
                .report
                .violations
                .iter()
                .map(|v| v.invariant.to_string())
                .collect();
            broken.sort();
            broken.dedup();
            let mut expected = scenario.expect_violations.clone();
            expected.sort();
            assert_eq!(
                broken,
                expected,
                "{} seed {seed}: violations differ from expect_violations",
                path.display()
            );
            text.push_str(&smtpsim::format::text::render(&result));
            text.push('\n');
        }
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => scenario.about.clone(),
        }, {
            insta::assert_snapshot!(text);
        });
    });
}
