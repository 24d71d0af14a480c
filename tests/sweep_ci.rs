//! Sweeps as a CI job runs them (no terminal): no green partial run, progress lines on stderr,
//! each failure printed once with a cap, and `merge` of shards with its summary and reports.

use std::path::PathBuf;
use std::process::Command;

fn smtpsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("smtpsim-sweep-ci-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path: PathBuf = dir.join(name);
    path.to_str().unwrap().to_string()
}

/// Every seed of this sim breaks an invariant (its Postfix cuts the keepalive NOOPs).
const ALL_FAIL: &str = "sims/noop-keepalive-junk-limit.toml";

#[test]
fn max_fail_0_is_refused_not_a_green_partial_run() {
    let (code, out, err) = smtpsim(&[
        "sweep",
        "sims/symantec-telnet.toml",
        "--seeds",
        "0..2000",
        "--max-fail",
        "0",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("--max-fail 0: a sweep stopped before its first failure would pass unchecked; give N >= 1, or leave --max-fail out for no limit"),
        "{err}"
    );
    assert!(out.is_empty(), "nothing ran: {out}");
}

#[test]
fn without_a_terminal_progress_lines_come_at_an_interval_and_stay_out_of_the_json() {
    let json = temp("progress.json");
    let (code, out, err) = smtpsim(&[
        "sweep",
        ALL_FAIL,
        "--seeds",
        "0..40",
        "--faults",
        "none",
        "--jobs",
        "1",
        "--progress-interval",
        "100ms",
        "--json",
        &json,
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(
        lines.len() >= 2,
        "a 40-seed debug sweep outlasts 100 ms twice: {err}"
    );
    for line in &lines {
        // done/total, the rate, the failures so far (every seed of this sim fails).
        let rest = line.strip_prefix("progress: ").unwrap();
        let (done, rest) = rest.split_once("/40 seeds · ").expect("done/total");
        let (rate, failed) = rest.split_once(" seeds/s · ").expect("rate");
        let done: usize = done.parse().expect("done");
        assert!(rate.parse::<f64>().is_ok(), "{line}");
        assert_eq!(failed, format!("{done} failed"), "{line}");
    }
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(!text.contains("progress"), "{text}");
    assert!(!text.contains("seeds/s"), "{text}");

    let (_, _, err) = smtpsim(&[
        "sweep",
        ALL_FAIL,
        "--seeds",
        "0..10",
        "--faults",
        "none",
        "--progress-interval",
        "0s",
    ]);
    assert!(!err.contains("progress: "), "0s: no progress lines: {err}");
}

#[test]
fn each_failure_is_printed_once_up_to_a_cap_then_counted() {
    let (code, out, err) = smtpsim(&["sweep", ALL_FAIL, "--seeds", "0..30", "--faults", "none"]);
    assert_eq!(code, 1);
    assert_eq!(err.matches("FAIL seed ").count(), 20, "{err}");
    assert!(
        err.contains("more than 20 failing seeds: the rest are counted, not printed"),
        "{err}"
    );
    assert!(
        !out.contains("replay:"),
        "not printed again in the summary: {out}"
    );
    assert!(out.contains("seeds passed: 0, failed: 30"), "{out}");
}

#[test]
fn merge_prints_its_summary_writes_junit_and_html_and_normalises_paths() {
    let shard = |i: u32, sim: &str| {
        let path = temp(&format!("merge-{i}.json"));
        let spec = format!("{i}/2");
        let (code, _, err) = smtpsim(&[
            "sweep", sim, "--seeds", "0..30", "--faults", "none", "--shard", &spec, "--json", &path,
        ]);
        assert_eq!(code, 1, "{err}");
        path
    };
    let one = shard(1, "./sims/noop-keepalive-junk-limit.toml");
    let two = shard(2, ALL_FAIL);
    let (junit, html, json) = (temp("merged.xml"), temp("merged.html"), temp("merged.json"));
    let (code, out, err) = smtpsim(&[
        "merge", &one, &two, "--json", &json, "--junit", &junit, "--report", &html,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("seeds 0..30 · 30 runs") && out.contains("seeds passed: 0, failed: 30"),
        "{out}"
    );
    assert_eq!(out.matches("replay: smtpsim run").count(), 20, "{out}");
    assert!(out.contains("and 10 more failing seeds"), "{out}");
    assert!(err.contains(&format!("report: {html}")), "{err}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 30, "{xml}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("noop-keepalive-junk-limit"),
        "the page names the scenario"
    );
    let merged = std::fs::read_to_string(&json).unwrap();
    assert!(merged.contains("\"runs\": 30"), "{merged}");
}

#[test]
fn merge_refuses_an_interrupted_or_stopped_shard_by_name() {
    let full = temp("full-1.json");
    let (code, _, _) = smtpsim(&[
        "sweep", ALL_FAIL, "--seeds", "0..20", "--faults", "none", "--shard", "1/2", "--json",
        &full,
    ]);
    assert_eq!(code, 1);
    let stopped = temp("stopped-2.json");
    let (code, _, _) = smtpsim(&[
        "sweep",
        ALL_FAIL,
        "--seeds",
        "0..20",
        "--faults",
        "none",
        "--shard",
        "2/2",
        "--json",
        &stopped,
        "--max-fail",
        "1",
        "--jobs",
        "1",
    ]);
    assert_eq!(code, 1);
    let text = std::fs::read_to_string(&stopped).unwrap();
    assert!(
        text.contains("\"stopped\": \"stopped after 1 failing seeds (--fail-fast / --max-fail)\""),
        "{text}"
    );
    let (code, out, err) = smtpsim(&["merge", &full, &stopped]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains(&format!(
            "cannot merge: {stopped} (shard 2/2) is incomplete (stopped after 1 failing seeds"
        )) && err.contains("run that shard again"),
        "{err}"
    );
    // A report cut short without the marker (an older file, an edited one) is caught by count.
    let edited = temp("edited-2.json");
    let text = text.replace(
        "  \"stopped\": \"stopped after 1 failing seeds (--fail-fast / --max-fail)\",\n",
        "",
    );
    std::fs::write(&edited, text).unwrap();
    let (code, _, err) = smtpsim(&["merge", &full, &edited]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "cannot merge: {edited} (shard 2/2) ran 1 of its 10 seeds"
        )),
        "{err}"
    );
}

#[test]
fn the_report_embeds_the_scenario_explains_the_plans_and_its_path_is_named() {
    let html = temp("telnet.html");
    let (code, _, err) = smtpsim(&[
        "sweep",
        "sims/symantec-telnet.toml",
        "--seeds",
        "0..30",
        "--faults",
        "lossy-network",
        "--report",
        &html,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("report: {html}")), "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<summary>the scenario (sims/symantec-telnet.toml)</summary><pre>name = &quot;symantec-telnet&quot;"),
        "the scenario that defines the middlebox is in the page"
    );
    assert!(
        page.contains("This seed's faults (what the lossy-network preset drew, and the scenario's own events), listed in full")
            && page.contains("It says <code>profile = \"none\"</code> because nothing more is to be drawn"),
        "the plans' form is explained"
    );
}
