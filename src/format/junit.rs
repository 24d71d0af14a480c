//! `sweep --junit`: the sweep as JUnit XML for CI systems.

use super::xml_escape;
use crate::sweep::{SeedViolation, SweepReport};

/// The sweep as JUnit XML: one test case per seed in `ran`, a failure per broken invariant
/// with its detail and the command that replays it.
pub fn render(report: &SweepReport, ran: &[u64]) -> String {
    let suite = format!("{} --faults {}", report.scenario, report.faults);
    let failing: std::collections::BTreeSet<u64> =
        report.violations.iter().map(|v| v.seed).collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites><testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">\n",
        xml_escape(&suite),
        ran.len(),
        failing.len()
    ));
    for seed in ran {
        out.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"seed {seed}\"",
            xml_escape(&suite)
        ));
        let broken: Vec<&SeedViolation> = report
            .violations
            .iter()
            .filter(|v| v.seed == *seed)
            .collect();
        if broken.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        for v in broken {
            out.push_str(&format!(
                "    <failure message=\"{}\">{}\nreplay: {}</failure>\n",
                xml_escape(&v.invariant),
                xml_escape(&v.detail),
                xml_escape(&v.replay)
            ));
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}
