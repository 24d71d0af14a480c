//! The oracle judged on worlds with known answers: deliberately broken actors it must catch
//! (mutation testing), recipients a queue must keep, and addresses it must recognise in the
//! form the server reads them.

use smtpsim::oracle::Verdict;
use smtpsim::scenario::Scenario;
use smtpsim::sim::{self, Mutant, RunResult};

/// A Postfix relay (its queue retries) sending one message to two local users, or one when
/// `to` says so; `server` adds server knobs.
fn world(from: &str, to: &[&str], server: &str) -> Scenario {
    let to: Vec<String> = to.iter().map(|t| format!("{t:?}")).collect();
    let text = format!(
        r#"
name = "oracle"
seeds = [0]
[client]
profile = "postfix-queue"
helo_name = "relay.example.net"
tls = "none"
[[client.message]]
from = {from:?}
to = [{}]
body = "Subject: ledger\n\nfirst line\nlast line\n"
[server]
profile = "postfix"
hostname = "mail.example.org"
mailboxes = ["bob@example.org", "carol@example.org"]
{server}
"#,
        to.join(", ")
    );
    Scenario::parse(&text, "oracle.toml").expect("valid scenario")
}

fn broken(r: &RunResult) -> Vec<&'static str> {
    let mut names: Vec<&str> = r.report.violations.iter().map(|v| v.invariant).collect();
    names.sort();
    names.dedup();
    names
}

/// A second RCPT in one transaction gets Postfix's `452 4.5.3 Error: too many recipients`:
/// a 4xx for that recipient alone, while the first is accepted.
const ONE_RECIPIENT_PER_MESSAGE: &str = "recipient_limit = 1";

#[test]
fn every_mutant_is_caught_by_the_invariant_it_breaks() {
    let plain = world("alice@example.net", &["bob@example.org"], "");
    let two = world(
        "alice@example.net",
        &["bob@example.org", "carol@example.org"],
        ONE_RECIPIENT_PER_MESSAGE,
    );
    // The same worlds with honest actors break nothing: what the mutants break is theirs.
    for s in [&plain, &two] {
        let r = sim::run(s, 0).expect("runs");
        assert!(r.report.passed(), "{:?}", r.report.violations);
    }
    for mutant in Mutant::ALL {
        let (scenario, expected, verdict) = match mutant {
            Mutant::LoseAfterAck => (&plain, "silent-loss", Verdict::Lost),
            Mutant::Duplicate => (&plain, "duplicate", Verdict::Duplicated),
            Mutant::Truncate => (&plain, "partial-delivery", Verdict::Partial),
            Mutant::ForgetRefusedRecipient => (&two, "silent-loss", Verdict::Lost),
        };
        let r = sim::run_mutant(scenario, 0, mutant).expect("runs");
        assert_eq!(broken(&r), vec![expected], "{mutant:?}: {:?}", r.report);
        assert_eq!(r.report.messages[0].verdict, verdict, "{mutant:?}");
    }
}

#[test]
fn the_forgotten_recipient_is_named_and_the_other_one_is_delivered() {
    let two = world(
        "alice@example.net",
        &["bob@example.org", "carol@example.org"],
        ONE_RECIPIENT_PER_MESSAGE,
    );
    let r = sim::run_mutant(&two, 0, Mutant::ForgetRefusedRecipient).expect("runs");
    let m = &r.report.messages[0];
    assert!(m.mixed());
    assert_eq!(m.recipients[0].verdict, Verdict::Delivered);
    assert_eq!(m.recipients[1].verdict, Verdict::Lost);
    let v = &r.report.violations[0];
    assert!(v.detail.contains("<carol@example.org>"), "{}", v.detail);
    assert!(v.detail.contains("452 4.5.3"), "{}", v.detail);
}

#[test]
fn postfix_keeps_a_recipient_refused_with_a_4xx_and_delivers_it_on_the_retry() {
    let two = world(
        "alice@example.net",
        &["bob@example.org", "carol@example.org"],
        ONE_RECIPIENT_PER_MESSAGE,
    );
    let r = sim::run(&two, 0).expect("runs");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(r.deliveries.len(), 2, "bob first, carol on the retry");
    assert_eq!(r.deliveries[0].rcpt_to, ["bob@example.org"]);
    assert_eq!(r.deliveries[1].rcpt_to, ["carol@example.org"]);
    assert_eq!(r.outcomes[0].retry_at.is_some(), true, "carol kept queued");
    assert_eq!(r.outcomes[1].to, ["carol@example.org"]);
    let m = &r.report.messages[0];
    assert_eq!(m.verdict, Verdict::Delivered);
    assert!(m.recipients.iter().all(|r| r.verdict == Verdict::Delivered));
}

#[test]
fn a_client_without_a_queue_reports_the_refused_recipient_and_nothing_is_lost() {
    let mut two = world(
        "alice@example.net",
        &["bob@example.org", "carol@example.org"],
        ONE_RECIPIENT_PER_MESSAGE,
    );
    two.client = smtpsim::profile::ClientConfig::preset("smtplib").expect("preset");
    let r = sim::run(&two, 0).expect("runs");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    let m = &r.report.messages[0];
    assert_eq!(m.recipients[0].verdict, Verdict::Delivered);
    assert_eq!(m.recipients[1].verdict, Verdict::Failed);
    assert_eq!(r.deliveries.len(), 1);
}

#[test]
fn senders_and_recipients_are_matched_as_the_server_reads_them() {
    for (from, to) in [
        ("\"alice smith\"@example.net", "bob@example.org"),
        ("@relay.example.net:alice@example.net", "bob@EXAMPLE.ORG"),
        ("alice@Example.NET", "\"bob\"@example.org"),
    ] {
        let r = sim::run(&world(from, &[to], ""), 0).expect("runs");
        assert!(
            r.report.passed(),
            "{from} -> {to}: {:?}",
            r.report.violations
        );
        assert_eq!(r.deliveries.len(), 1, "{from} -> {to}");
        assert_eq!(r.report.messages[0].verdict, Verdict::Delivered, "{from}");
    }
}

#[test]
fn address_keys_undo_quotes_routes_and_domain_case_only() {
    use smtpsim::oracle::address_key;
    assert_eq!(
        address_key("\"alice smith\"@example.org"),
        "alice smith@example.org"
    );
    assert_eq!(
        address_key("@a.example,@b.example:u@C.example"),
        "u@c.example"
    );
    assert_eq!(address_key("Bob@Example.Org"), "Bob@example.org");
    assert_ne!(
        address_key("bob@example.org"),
        address_key("rob@example.org")
    );
}

#[test]
fn postfix_retries_only_the_recipients_not_refused_for_good() {
    // RCPT #1 gets 554 (bounced), '.' gets 421 (deferred): the retry is for carol alone.
    let mut s = world(
        "alice@example.net",
        &["bob@example.org", "carol@example.org"],
        "",
    );
    let faults = r#"
[[faults.event]]
kind = "server-reply"
connection = 1
stage = "rcpt"
nth = 1
reply = "554 5.7.1 <bob@example.org>: Recipient address rejected"
[[faults.event]]
kind = "server-reply"
connection = 1
stage = "dot"
reply = "421 4.3.0 mail.example.org Service not available"
"#;
    let text = format!("{}{faults}", s.source);
    s = Scenario::parse(&text, "oracle.toml").expect("valid scenario");
    let r = sim::run(&s, 0).expect("runs");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(r.outcomes.len(), 2, "{:?}", r.outcomes);
    assert_eq!(r.outcomes[1].to, ["carol@example.org"]);
    assert_eq!(r.deliveries.len(), 1);
    assert_eq!(r.deliveries[0].rcpt_to, ["carol@example.org"]);
    let m = &r.report.messages[0];
    assert_eq!(m.recipients[0].verdict, Verdict::Bounced);
    assert_eq!(m.recipients[1].verdict, Verdict::Delivered);
}
