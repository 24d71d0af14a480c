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
    assert!(r.deliveries.is_empty(), "nothing of the cut content");
    // ssmtp has no queue: the failure is reported, not retried; nothing is lost.
    assert_eq!(r.outcomes.len(), 1);
    assert!(!r.outcomes[0].in_sync_gap, "the '.' never left");
    assert_eq!(r.report.messages[0].verdict, Verdict::Failed);
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

/// A sim's text with its client profile replaced.
fn with_client(sim: &str, profile: &str, extra: &str) -> smtpsim::sim::RunResult {
    let path = format!("{}/sims/{sim}.toml", env!("CARGO_MANIFEST_DIR"));
    let original = std::fs::read_to_string(path).unwrap();
    let client = original
        .lines()
        .find(|l| l.starts_with("profile = ") && original.find(l) < original.find("[[client"))
        .expect("a client profile")
        .to_string();
    let text = original.replacen(&client, &format!("profile = \"{profile}\"\n{extra}"), 1);
    let s = Scenario::parse(&text, &format!("{sim}-{profile}.toml")).expect("valid");
    smtpsim::sim::run(&s, s.seeds[0]).expect("runs")
}

#[test]
fn a_message_sent_with_bdat_is_delivered_as_the_same_message_sent_with_data() {
    // Leading dots: stuffed for DATA, sent as they are in BDAT chunks; a bare \n sent as CRLF.
    let scenario = |client: &str| {
        let text = format!(
            r#"name = "bdat-or-data"
seeds = [0]
[client]
{client}
[[client.message]]
from = "alice@fabrikam.com"
to = ["bob@example.org"]
body = "Subject: dots\n\n.one\n..two\n.\nend"
[server]
profile = "postfix"
hostname = "mail.example.org"
mailboxes = ["bob@example.org"]
"#
        );
        let s = Scenario::parse(&text, "bdat-or-data.toml").expect("valid");
        smtpsim::sim::run(&s, 0).expect("runs")
    };
    // A client that adds no headers of its own, so both copies are the scenario's content.
    let data = scenario("profile = \"pipelining\"");
    assert!(wire(&data, "client", "server").contains("\r\n..one\r\n...two\r\n..\r\n"));
    for (client, sent) in [
        ("profile = \"exchange\"", "BDAT 38 LAST\r\n"),
        (
            "profile = \"exchange\"\npipelining = false\nchunk_size = 10",
            "BDAT 8 LAST\r\n",
        ),
    ] {
        let bdat = scenario(client);
        let on_the_wire = wire(&bdat, "client", "server");
        assert!(on_the_wire.contains(sent), "{client}: {on_the_wire}");
        assert!(
            on_the_wire.contains("\r\n.one\r\n..two\r\n.\r\n") || client.contains("chunk_size"),
            "not stuffed"
        );
        assert!(bdat.report.passed(), "{:?}", bdat.report.violations);
        assert_eq!(bdat.report.messages[0].verdict, Verdict::Delivered);
        assert_eq!(bdat.deliveries.len(), 1, "no duplicate");
        assert_eq!(
            bdat.deliveries[0].body, data.deliveries[0].body,
            "the same content as with DATA"
        );
    }
}

#[test]
fn a_connection_lost_before_bdat_last_delivers_nothing_and_is_no_rfc1047_gap() {
    let r = run("bdat-reset-mid-chunk");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(r.deliveries.len(), 1, "only the retry's complete copy");
    assert_eq!(r.report.messages[0].verdict, Verdict::Delivered);
    assert!(
        r.events.iter().any(|e| e.conn == 1
            && matches!(&e.kind, EventKind::Note(n) if n.starts_with("lost connection after BDAT ("))),
        "the server saw the loss inside a chunk"
    );
    let first = r.report.messages[0].client.as_str();
    assert!(first.contains("(attempt 2)"), "{first}");
    assert!(
        !r.outcomes.iter().any(|o| o.in_sync_gap),
        "BDAT LAST never went on the first connection"
    );
}

#[test]
fn a_crash_after_bdat_last_before_its_250_duplicates_within_rfc1047() {
    let r = with_client("server-crash-after-dot", "exchange", "");
    assert!(wire(&r, "client", "server").contains(" LAST\r\n"));
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(r.deliveries.len(), 2);
    assert_eq!(r.report.messages[0].verdict, Verdict::DuplicatedRfc1047);
    assert!(r.outcomes.iter().any(|o| o.in_sync_gap));
}

#[test]
fn the_av_proxy_keeps_a_bdat_sender_on_data_and_scans_it() {
    let r = run("bdat-through-av-proxy");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert!(wire(&r, "server", "interceptor").contains("250 CHUNKING"));
    assert!(!wire(&r, "interceptor", "client").contains("CHUNKING"));
    assert!(!wire(&r, "client", "interceptor").contains("BDAT"));
    assert!(wire(&r, "interceptor", "client").contains("354 Please start mail input."));
    assert_eq!(r.report.messages[0].verdict, Verdict::Delivered);
    // Without the proxy the same client sends BDAT.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/bdat-through-av-proxy.toml"
    ))
    .unwrap()
    .replace("profile = \"symantec-rset\"", "profile = \"passthrough\"");
    let s = Scenario::parse(&text, "bdat-passthrough.toml").expect("valid");
    let r = smtpsim::sim::run(&s, 0).expect("runs");
    assert!(wire(&r, "interceptor", "server").contains(" LAST\r\n"));
    assert_eq!(r.report.messages[0].verdict, Verdict::Delivered);
}

#[test]
fn the_chunks_before_bdat_last_delivered_alone_would_be_a_partial_delivery() {
    use smtpsim::proto::client::{Message, Outcome, Stage, Status};
    use smtpsim::proto::server::Delivery;
    let message = Message {
        id: 0,
        from: "alice@fabrikam.com".into(),
        to: vec!["bob@example.org".into()],
        body: b"Subject: t\n\nfirst chunk\nsecond chunk\n".to_vec(),
        at: Default::default(),
    };
    let lost = Outcome {
        id: 0,
        status: Status::Deferred,
        stage: Stage::Chunk,
        reply: None,
        reason: Some("connection reset".into()),
        to: Vec::new(),
        refused: Vec::new(),
        in_sync_gap: false,
        retry_at: None,
    };
    let first_chunk = Delivery {
        queue_id: "Q1".into(),
        helo: None,
        mail_from: message.from.clone(),
        rcpt_to: message.to.clone(),
        body: b"Subject: t\r\n\r\nfirst chunk\r\n".to_vec(),
        size: 27,
    };
    let report = smtpsim::oracle::judge(
        std::slice::from_ref(&message),
        &[lost],
        &[first_chunk],
        &[],
        false,
    );
    assert_eq!(report.messages[0].verdict, Verdict::Partial);
    assert_eq!(report.violations[0].invariant, "partial-delivery");
    let cut = "the content cut short: 27 of 41 bytes arrived, cut after byte 27";
    assert!(report.violations[0].detail.contains(cut), "{report:?}");
    assert!(report.messages[0].server.contains(cut), "{report:?}");
}

#[test]
fn norton_refuses_starttls_itself_and_the_server_never_sees_it() {
    let r = run("norton-av-starttls");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert!(!wire(&r, "interceptor", "server").contains("STARTTLS"));
    assert!(wire(&r, "server", "interceptor").contains("250-STARTTLS"));
    assert!(wire(&r, "interceptor", "client").contains("500 Unsupported command."));
    assert!(wire(&r, "server", "interceptor").contains("221 2.0.0 Bye"));
    assert!(wire(&r, "interceptor", "client").contains("221 Closing connection. Good bye."));
    assert_eq!(r.deliveries.len(), 0);
}

#[test]
fn the_early_acking_shield_hides_the_size_refusal_silent_loss() {
    let r = run("mail-shield-early-ack");
    assert_eq!(invariants(&r), ["silent-loss"]);
    assert!(wire(&r, "server", "interceptor").contains("552 5.3.4"));
    assert!(!wire(&r, "interceptor", "client").contains("552"));
    assert_eq!(r.report.messages[0].verdict, Verdict::Lost);
}

#[test]
fn untangle_sends_helo_so_a_tls_requiring_relay_bounces() {
    let r = run("untangle-ehlo-to-helo");
    let upstream = wire(&r, "interceptor", "server");
    assert!(upstream.contains("HELO relay.example.net") && !upstream.contains("EHLO"));
    assert!(!wire(&r, "interceptor", "client").contains("STARTTLS"));
    assert_eq!(r.report.messages[0].verdict, Verdict::Bounced);
}

#[test]
fn fortigate_cuts_the_data_at_the_signature_and_nothing_is_delivered() {
    let r = run("fortigate-splice-detection");
    let upstream = wire(&r, "interceptor", "server");
    assert!(upstream.contains("first line goes through\r\n"));
    assert!(!upstream.contains("EICAR") && !upstream.contains("last line"));
    assert!(
        !upstream.contains("\r\n.\r\n"),
        "the server never sees the end of data"
    );
    assert_eq!(r.deliveries.len(), 0);
    assert!(wire(&r, "interceptor", "client").contains("554 5.7.1"));
    assert_eq!(r.report.messages[0].verdict, Verdict::Bounced);
}

#[test]
fn symantec_mail_security_drops_a_bdat_session() {
    let r = run("symantec-mail-security-bdat");
    assert!(!wire(&r, "interceptor", "client").contains("CHUNKING"));
    assert!(!wire(&r, "interceptor", "server").contains("BDAT"));
    assert_eq!(r.deliveries.len(), 0);
}

#[test]
fn asa_passes_100_recipients_and_drops_the_101st() {
    let r = run("asa-too-many-recipients");
    let upstream = wire(&r, "interceptor", "server");
    assert_eq!(upstream.matches("rcpt TO:").count(), 100);
    assert!(!upstream.contains("user101"));
    assert_eq!(r.deliveries.len(), 0);
    assert_eq!(r.report.messages[0].verdict, Verdict::Failed);
}

#[test]
fn stormshield_refuses_bdat_and_the_exchange_sender_is_told() {
    let r = run("stormshield-blocks-bdat");
    assert!(!wire(&r, "interceptor", "server").contains("BDAT"));
    assert!(wire(&r, "interceptor", "client").contains("502 5.5.1"));
    assert_eq!(r.report.messages[0].verdict, Verdict::Bounced);
}

#[test]
fn the_tagging_shield_corrupts_the_message_and_the_oracle_says_how() {
    let r = run("mail-shield-tagging");
    assert_eq!(invariants(&r), ["corruption"]);
    let detail = &r.report.violations[0].detail;
    assert!(
        detail.contains("header Subject rewritten: \"minutes\" became \"[checked] minutes\""),
        "{detail}"
    );
    assert!(
        detail.contains("text appended to the body (63 bytes)"),
        "{detail}"
    );
    assert!(r.report.messages[0].server.contains("content changed"));
}

/// The tagging sim with its `[interceptor]` table replaced by `interceptor`.
fn tagging_through(interceptor: &str) -> smtpsim::sim::RunResult {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/mail-shield-tagging.toml"
    ))
    .unwrap()
    .replace(
        "profile = \"mail-shield-tagging\"\nsubject_tag = \"[checked]\"",
        interceptor,
    );
    let s = Scenario::parse(&text, "dkim-variant.toml").expect("valid");
    smtpsim::sim::run(&s, 0).expect("runs")
}

#[test]
fn the_tagged_message_fails_dkim_at_the_server_and_an_unchanged_one_passes() {
    let r = run("mail-shield-tagging");
    let dkim = r.report.messages[0].dkim.clone().unwrap_or_default();
    assert!(dkim.starts_with("signed d=example.net s=sim;"), "{dkim}");
    assert!(
        dkim.ends_with(": fail (body hash did not verify)"),
        "{dkim}"
    );
    assert!(wire(&r, "client", "interceptor").starts_with("EHLO"));
    assert!(
        wire(&r, "interceptor", "server").contains("\r\nDKIM-Signature: v=1; a=ed25519-sha256;")
    );

    let r = tagging_through("profile = \"passthrough\"");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    let dkim = r.report.messages[0].dkim.clone().unwrap_or_default();
    assert!(dkim.ends_with(": pass"), "{dkim}");

    let r = tagging_through(
        "profile = \"mail-shield-tagging\"\nbody_footer = \"\"\nsubject_tag = \"[x]\"",
    );
    let dkim = r.report.messages[0].dkim.clone().unwrap_or_default();
    assert!(
        dkim.ends_with(": fail (signature did not verify)"),
        "a header change alone: {dkim}"
    );
}

#[test]
fn the_dkim_key_comes_from_the_seed() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/mail-shield-tagging.toml"
    ))
    .unwrap();
    let s = Scenario::parse(&text, "mail-shield-tagging.toml").expect("valid");
    let signature = |seed| {
        let r = smtpsim::sim::run(&s, seed).expect("runs");
        let sent = wire(&r, "client", "interceptor");
        let at = sent.find("DKIM-Signature:").expect("signed");
        sent[at..].lines().next().unwrap().to_string()
    };
    assert_eq!(signature(0), signature(0));
    assert_ne!(signature(0), signature(1));
}

#[test]
fn a_proxy_refusing_starttls_leaves_an_opportunistic_client_in_plaintext() {
    let r = run("av-tls-refused-plaintext");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert!(!wire(&r, "interceptor", "server").contains("STARTTLS"));
    assert!(wire(&r, "interceptor", "client").contains("454 4.7.0"));
    assert_eq!(r.report.messages[0].verdict, Verdict::Downgraded);
}
