//! The interceptor bug catalogue: each documented failure, asserted through the oracle and
//! the wire, not only through its snapshot.

use smtpsim::oracle::Verdict;
use smtpsim::scenario::Scenario;
use smtpsim::transcript::EventKind;

fn run(name: &str) -> smtpsim::sim::RunResult {
    let path = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(path.as_ref()).expect("valid scenario");
    smtpsim::sim::run(&scenario, scenario.seeds[0]).expect("runs")
}

fn wire(r: &smtpsim::sim::RunResult, from: &str, to: &str) -> String {
    r.events
        .iter()
        .filter(|e| e.from == from && e.to == to)
        .filter_map(|e| match &e.kind {
            EventKind::Data(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

fn invariants(r: &smtpsim::sim::RunResult) -> Vec<&str> {
    r.report.violations.iter().map(|v| v.invariant).collect()
}

#[test]
fn early_ack_then_upstream_reject_is_a_silent_loss() {
    let r = run("symantec-early-ack");
    assert_eq!(invariants(&r), ["silent-loss"]);
    assert_eq!(r.report.messages[0].verdict, Verdict::Lost);
    assert!(wire(&r, "server", "interceptor").contains("554 5.7.1"));
    assert!(
        !wire(&r, "interceptor", "client").contains("554"),
        "the client never hears of the rejection"
    );
}

#[test]
fn noop_keepalives_hit_the_junk_limit_and_421_loses_the_acked_message() {
    let r = run("noop-keepalive-junk-limit");
    let upstream = wire(&r, "interceptor", "server");
    assert!(
        upstream.matches("NOOP\r\n").count() > 100,
        "more keepalives than the junk limit"
    );
    assert!(wire(&r, "server", "interceptor")
        .contains("421 4.7.0 mail.example.org Error: too many errors"));
    assert_eq!(invariants(&r), ["silent-loss"]);
}

#[test]
fn a_scan_longer_than_the_client_timeout_duplicates_within_rfc1047() {
    let r = run("scan-longer-than-client-timeout");
    assert!(
        r.report.passed(),
        "RFC 1047 duplicates are reported, not violations"
    );
    assert_eq!(r.report.messages[0].verdict, Verdict::DuplicatedRfc1047);
    assert!(r.deliveries.len() >= 2);
    assert!(r.outcomes.iter().any(|o| o.in_sync_gap));
}

#[test]
fn pix_split_terminator_duplicates_at_every_retry() {
    let r = run("pix-split-dot-duplicates");
    assert_eq!(r.report.messages[0].verdict, Verdict::DuplicatedRfc1047);
    let attempts = r.outcomes.len();
    assert_eq!(r.deliveries.len(), attempts, "one copy per attempt");
    assert!(attempts >= 3);
}

#[test]
fn a_server_crash_between_dot_and_250_duplicates_within_rfc1047() {
    let r = run("server-crash-after-dot");
    assert!(r.report.passed());
    assert_eq!(r.deliveries.len(), 2);
    assert_eq!(r.report.messages[0].verdict, Verdict::DuplicatedRfc1047);
}

#[test]
fn a_connection_dropped_mid_data_delivers_nothing_partial() {
    let r = run("reset-mid-data");
    assert!(r.report.passed());
    assert_eq!(r.deliveries.len(), 1, "only the retry's complete copy");
    assert_eq!(r.report.messages[0].verdict, Verdict::Delivered);
}

#[test]
fn asa_strips_starttls_and_says_so() {
    let r = run("asa-starttls-stripped");
    assert!(wire(&r, "server", "interceptor").contains("250-STARTTLS"));
    assert!(!wire(&r, "interceptor", "client").contains("STARTTLS"));
    assert!(r.report.messages[0]
        .interceptor
        .iter()
        .any(|n| n.contains("stripped STARTTLS")));
}

#[test]
fn a_message_over_the_interceptor_buffer_limit_is_refused_not_lost() {
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/symantec-rset.toml"
    ))
    .unwrap();
    let text = original.replace(
        "profile = \"symantec-rset\"",
        "profile = \"symantec-rset\"\nbuffer_limit = 20",
    );
    let s = Scenario::parse(&text, "buffer-limit.toml").expect("valid");
    let r = smtpsim::sim::run(&s, 0).expect("runs");
    assert!(wire(&r, "interceptor", "client").contains("552 5.3.4 Message too big for the scanner"));
    assert!(r.deliveries.is_empty());
    assert!(
        !wire(&r, "interceptor", "server").contains("DATA"),
        "nothing released upstream"
    );
    assert_eq!(r.report.messages[0].verdict, Verdict::Bounced);
    assert!(r.report.passed());
}
