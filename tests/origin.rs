//! The origin case, asserted event by event (the snapshots show it; these tests say what
//! must be true of it, so a snapshot cannot be accepted with the story broken).

use smtpsim::scenario::Scenario;
use smtpsim::transcript::{Event, EventKind};
use std::time::Duration;

fn run(name: &str) -> smtpsim::sim::RunResult {
    let path = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(path.as_ref()).expect("valid scenario");
    smtpsim::sim::run(&scenario, scenario.seeds[0]).expect("runs")
}

/// Command lines written from `from` to `to`, with their times.
fn lines(events: &[Event], from: &str, to: &str) -> Vec<(Duration, String)> {
    let mut out = Vec::new();
    for e in events {
        if let EventKind::Data(bytes) = &e.kind {
            if e.from == from && e.to == to {
                for line in String::from_utf8_lossy(bytes)
                    .split("\r\n")
                    .filter(|l| !l.is_empty())
                {
                    out.push((e.at, line.to_string()));
                }
            }
        }
    }
    out
}

fn verbs(lines: &[(Duration, String)]) -> Vec<String> {
    lines
        .iter()
        .map(|(_, l)| l.split(' ').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn symantec_rset_server_sees_rset_rset_gap_then_replay() {
    let r = run("symantec-rset");
    let upstream = lines(&r.events, "interceptor", "server");
    let commands: Vec<&(Duration, String)> = upstream
        .iter()
        .filter(|(_, l)| {
            ["HELO", "MAIL", "RCPT", "RSET", "DATA", "QUIT"]
                .iter()
                .any(|v| l.starts_with(v))
        })
        .collect();
    let v: Vec<String> = commands
        .iter()
        .map(|(_, l)| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        v,
        ["HELO", "MAIL", "RCPT", "RSET", "RSET", "MAIL", "RCPT", "DATA", "QUIT"]
    );
    let (t_rset1, t_rset2, t_mail2, t_data) =
        (commands[3].0, commands[4].0, commands[5].0, commands[7].0);
    let second = t_rset2 - t_rset1;
    assert!(
        second >= Duration::from_millis(1000) && second < Duration::from_millis(1100),
        "second RSET {second:?} later"
    );
    assert!(
        t_mail2 - t_rset2 >= Duration::from_secs(10),
        "the scan gap is {:?}",
        t_mail2 - t_rset2
    );
    assert!(
        t_data - t_mail2 < Duration::from_secs(1),
        "MAIL, RCPT, DATA within one second"
    );
    let to_client = lines(&r.events, "interceptor", "client");
    assert!(to_client
        .iter()
        .any(|(_, l)| l == "354 Please start mail input."));
    assert!(
        !to_client.iter().any(|(_, l)| l.starts_with("354 End data")),
        "the client never sees Postfix's 354"
    );
    let client_sent = verbs(&lines(&r.events, "client", "interceptor"));
    assert!(
        !client_sent.contains(&"RSET".to_string()),
        "the client itself never sends RSET"
    );
    assert_eq!(
        r.report.messages[0].verdict,
        smtpsim::oracle::Verdict::Delivered
    );
}

#[test]
fn symantec_telnet_noops_while_typing_and_data_only_after_quit() {
    let r = run("symantec-telnet");
    let upstream = lines(&r.events, "interceptor", "server");
    let client_quit = lines(&r.events, "client", "interceptor")
        .into_iter()
        .find(|(_, l)| l == "QUIT")
        .expect("QUIT typed")
        .0;
    let client_dot = lines(&r.events, "client", "interceptor")
        .into_iter()
        .find(|(_, l)| l == ".")
        .expect("dot typed")
        .0;
    let data_up = upstream
        .iter()
        .find(|(_, l)| l == "DATA")
        .expect("DATA goes upstream")
        .0;
    assert!(
        data_up >= client_quit,
        "DATA upstream at {data_up:?}, QUIT at {client_quit:?}"
    );
    let noops = upstream
        .iter()
        .filter(|(t, l)| l == "NOOP" && *t < client_dot)
        .count();
    assert!(
        noops >= 2,
        "NOOP keepalives while the body is typed: {noops}"
    );
    let to_client = lines(&r.events, "interceptor", "client");
    assert!(to_client
        .iter()
        .any(|(_, l)| l == "354 Please start mail input."));
    let ack = to_client
        .iter()
        .find(|(_, l)| l.starts_with("250") && *l != "250 mail.example.org")
        .expect("an ack");
    assert!(
        ack.0 < data_up,
        "the client is told 250 before the server has the message"
    );
}

#[test]
fn bare_helo_fails_on_postfix_and_passes_relaxed_and_exchange() {
    let strict = run("bare-helo-postfix");
    let replies = lines(&strict.events, "server", "client");
    assert!(replies
        .iter()
        .any(|(_, l)| l == "501 Syntax: HELO hostname"));
    assert_eq!(
        verbs(&lines(&strict.events, "client", "server")),
        ["HELO", "QUIT"]
    );
    assert_eq!(
        strict.report.messages[0].verdict,
        smtpsim::oracle::Verdict::Bounced
    );
    for name in ["bare-helo-relaxed", "bare-helo-exchange"] {
        let r = run(name);
        assert_eq!(
            r.report.messages[0].verdict,
            smtpsim::oracle::Verdict::Delivered,
            "{name}"
        );
    }
}

#[test]
fn rfc821_abort_is_rcpt_550_rset_quit() {
    let r = run("rfc821-abort");
    assert_eq!(
        verbs(&lines(&r.events, "client", "server")),
        ["HELO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"]
    );
    assert!(lines(&r.events, "server", "client")
        .iter()
        .any(|(_, l)| l == "550 No such user here"));
}

#[test]
fn connection_cache_probes_with_rset_before_each_reuse() {
    let r = run("postfix-connection-cache");
    let sent = verbs(&lines(&r.events, "client", "server"));
    let mails = sent.iter().filter(|v| *v == "MAIL").count();
    assert_eq!(mails, 3);
    let positions: Vec<usize> = sent
        .iter()
        .enumerate()
        .filter(|(_, v)| *v == "MAIL")
        .map(|(i, _)| i)
        .collect();
    for &p in &positions[1..] {
        assert_eq!(
            sent[p - 1],
            "RSET",
            "RSET probe before reused MAIL: {sent:?}"
        );
    }
    // One connection: EHLO, STARTTLS (Debian's opportunistic TLS), EHLO again inside TLS.
    assert_eq!(
        sent[..3],
        ["EHLO", "STARTTLS", "EHLO"],
        "one connection, one greeting before and one inside TLS"
    );
    assert_eq!(sent.iter().filter(|v| *v == "EHLO").count(), 2);
    assert!(r
        .report
        .messages
        .iter()
        .all(|m| m.verdict == smtpsim::oracle::Verdict::Delivered));
}

#[test]
fn pix_masks_banner_and_refuses_ehlo() {
    let r = run("pix-mailguard");
    let to_client = lines(&r.events, "interceptor", "client");
    let banner = &to_client[0].1;
    assert!(
        banner.starts_with("220 ")
            && banner[4..]
                .chars()
                .all(|c| matches!(c, '*' | '2' | '0' | ' ')),
        "{banner}"
    );
    assert!(to_client
        .iter()
        .any(|(_, l)| l == "500 5.5.1 Command unrecognized"));
    assert!(
        lines(&r.events, "interceptor", "server")
            .iter()
            .any(|(_, l)| l == "NOOP"),
        "EHLO reaches the server as NOOP"
    );
    assert_eq!(
        r.report.messages[0].verdict,
        smtpsim::oracle::Verdict::Delivered
    );
}
