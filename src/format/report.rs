//! `sweep --report`: one self-contained HTML file for people: the sweep's parameters, the
//! verdict table, a bar per broken invariant, and for each failing seed (up to a limit) its
//! fault plan, its sequence diagram inline, and the commands that replay and shrink it.

use super::xml_escape;
use crate::scenario::Scenario;
use crate::sweep::SweepReport;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Failing seeds drawn in full; the rest are listed.
pub const DRAWN: usize = 10;

/// The report of `report`, a sweep of `scenario` (file `file`); failing seeds are re-run to
/// draw them (each run is its seed's, so the drawing is the run that failed).
pub fn render(scenario: &Scenario, file: &str, report: &SweepReport) -> String {
    let replays = Replays {
        plan: &|seed| crate::sim::plan_for(scenario, seed),
        run: &|seed| crate::sim::run(scenario, seed),
        replay: &|seed| crate::seeds::replay_command(file, seed, &report.faults),
        shrink: &|seed| {
            crate::seeds::replay_command(file, seed, &report.faults).replacen(
                "smtpsim run",
                "smtpsim shrink",
                1,
            )
        },
    };
    render_with(scenario, file, report, &replays)
}

/// How a report re-runs and names a failing seed: the CLI's scenario file, or a
/// [`World`](crate::world::World) of the user's code.
pub struct Replays<'a> {
    /// The seed's fault plan.
    pub plan: &'a dyn Fn(u64) -> crate::fault::FaultPlan,
    /// Runs the seed again.
    pub run: &'a dyn Fn(u64) -> Result<crate::sim::RunResult, crate::sim::SimError>,
    /// What replays the seed.
    pub replay: &'a dyn Fn(u64) -> String,
    /// What shrinks the seed.
    pub shrink: &'a dyn Fn(u64) -> String,
}

/// The report of `report`, a sweep of `scenario` (named `file`) whose seeds `replays`
/// re-runs and names.
pub fn render_with(
    scenario: &Scenario,
    file: &str,
    report: &SweepReport,
    replays: &Replays<'_>,
) -> String {
    let mut html = String::new();
    let title = format!(
        "smtpsim sweep · {} · faults {} · seeds {}",
        report.scenario, report.faults, report.seeds
    );
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        xml_escape(&title),
        xml_escape(&title)
    );
    let failing: Vec<u64> = {
        let mut seeds: Vec<u64> = report.violations.iter().map(|v| v.seed).collect();
        seeds.dedup();
        seeds
    };
    let _ = writeln!(
        html,
        "<p class=\"summary\">{} seeds ran{} · <b>{}</b> passed · <b class=\"{}\">{}</b> failed</p>",
        report.runs,
        report
            .shard
            .as_ref()
            .map(|s| format!(" (shard {s})"))
            .unwrap_or_default(),
        report.passed,
        if failing.is_empty() { "ok" } else { "bad" },
        failing.len()
    );
    html.push_str(&verdict_table(report));
    html.push_str(&invariant_bars(report));
    let _ = writeln!(
        html,
        "<details><summary>the scenario ({})</summary><pre>{}</pre></details>",
        xml_escape(file),
        xml_escape(&scenario.source)
    );
    if !failing.is_empty() {
        html.push_str("<h2>Failing seeds</h2>\n");
    }
    for (i, &seed) in failing.iter().enumerate() {
        if i < DRAWN {
            html.push_str(&failing_seed(scenario, report, seed, replays));
        } else {
            let replay = (replays.replay)(seed);
            let _ = writeln!(
                html,
                "<p class=\"more\">seed {seed}: <code>{}</code></p>",
                xml_escape(&replay)
            );
        }
    }
    html.push_str("</body></html>\n");
    html
}

fn verdict_table(report: &SweepReport) -> String {
    let total: u64 = report.verdicts.values().sum();
    let mut out = String::from("<h2>Verdicts</h2>\n<table class=\"verdicts\"><tr><th>verdict</th><th>messages</th><th>share</th></tr>\n");
    for (verdict, count) in &report.verdicts {
        let share = 100.0 * *count as f64 / total.max(1) as f64;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{count}</td><td class=\"n\">{share:.1} %</td></tr>",
            xml_escape(verdict)
        );
    }
    out.push_str("</table>\n");
    out
}

fn invariant_bars(report: &SweepReport) -> String {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for v in &report.violations {
        *counts.entry(v.invariant.as_str()).or_default() += 1;
    }
    let mut out = String::from("<h2>Broken invariants</h2>\n");
    if counts.is_empty() {
        out.push_str("<p class=\"ok\">none: every invariant held</p>\n");
        return out;
    }
    let most = counts.values().copied().max().unwrap_or(1);
    out.push_str("<div class=\"bars\">\n");
    for (invariant, count) in counts {
        let width = (400 * count / most).max(2);
        let _ = writeln!(
            out,
            "<div class=\"bar\"><span class=\"name\">{}</span><span class=\"fill\" style=\"width:{width}px\"></span><span class=\"n\">{count}</span></div>",
            xml_escape(invariant)
        );
    }
    out.push_str("</div>\n");
    out
}

fn failing_seed(
    scenario: &Scenario,
    report: &SweepReport,
    seed: u64,
    replays: &Replays<'_>,
) -> String {
    let mut out =
        format!("<section class=\"seed\" id=\"seed-{seed}\"><h3>seed {seed}</h3>\n<ul>\n");
    for v in report.violations.iter().filter(|v| v.seed == seed) {
        let _ = writeln!(
            out,
            "<li><b>{}</b>: {}</li>",
            xml_escape(&v.invariant),
            xml_escape(&v.detail)
        );
    }
    out.push_str("</ul>\n");
    let (replay, shrink) = ((replays.replay)(seed), (replays.shrink)(seed));
    let _ = writeln!(
        out,
        "<p>replay: <code>{}</code><br>shrink: <code>{}</code></p>",
        xml_escape(&replay),
        xml_escape(&shrink)
    );
    let plan = (replays.plan)(seed);
    if !plan.events.is_empty() {
        out.push_str("<details open><summary>fault plan</summary>");
        let _ = write!(
            out,
            "<p class=\"note\">This seed's faults (what the {} preset drew, and the scenario's own \
             events), listed in full as a \
             <code>[faults]</code> table: pasted over the scenario's own, it replays them without \
             the seed. It says <code>profile = \"none\"</code> because nothing more is to be drawn; \
             <code>window</code> and <code>latency_max</code> keep the preset's values.</p><pre>",
            xml_escape(&report.faults)
        );
        out.push_str(&xml_escape(&plan.to_toml(&scenario.fault_config)));
        out.push_str("</pre></details>\n");
    }
    match (replays.run)(seed) {
        Ok(run) => {
            out.push_str("<details open><summary>sequence diagram</summary><div class=\"svg\">");
            out.push_str(&super::svg::render(&run));
            out.push_str("</div></details>\n");
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"bad\">cannot re-run: {}</p>",
                xml_escape(&e.0)
            );
        }
    }
    out.push_str("</section>\n");
    out
}

const STYLE: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px;color:#222}\
h1{font-size:20px}h2{font-size:16px;margin-top:28px}h3{font-size:15px}\
code,pre{font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;font-size:12px}\
pre{background:#f6f6f6;padding:8px;overflow-x:auto}\
table.verdicts{border-collapse:collapse}table.verdicts td,table.verdicts th{border:1px solid #ddd;padding:3px 10px;text-align:left}\
td.n{text-align:right}.ok{color:#2b7a2b}.bad{color:#c0392b}\
.bar{display:flex;align-items:center;gap:8px;margin:3px 0}.bar .name{width:200px}\
.bar .fill{display:inline-block;height:12px;background:#c0392b}\
section.seed{border-top:1px solid #ddd;margin-top:16px}.svg{overflow-x:auto}";
