//! `smtpsim diff --client`: the harness that meets real client programs and their profiles
//! with the same generated server behaviours. Tests that need a program this machine lacks
//! say so on stderr ("SKIPPED") and pass; CI installs every program (.ci/run).

use smtpsim::diff::client::behaviour::{Behaviour, Limits};
use smtpsim::fault::{FaultEvent, ServerStage};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/bin.rs"]
mod bin;
use bin::smtpsim;

/// The program at the first of `paths` that exists (an environment variable first).
fn program(var: &str, paths: &[&str]) -> Option<PathBuf> {
    let found = std::env::var(var)
        .ok()
        .map(PathBuf::from)
        .into_iter()
        .chain(paths.iter().map(PathBuf::from))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!("SKIPPED: none of ${var}, {paths:?} exists; install it (see .ci/run)");
    }
    found
}

fn ssmtp() -> Option<PathBuf> {
    program(
        "SMTPSIM_SSMTP",
        &["/usr/sbin/ssmtp", "/tmp/debs/x/usr/sbin/ssmtp"],
    )
}

/// Writes `behaviour` for `program` compared with `profile` and replays it on both sides.
fn replay(
    program: &str,
    path: &Path,
    profile: &str,
    behaviour: &Behaviour,
    knobs: &[(&str, String)],
) -> (i32, String) {
    let file = std::env::temp_dir().join(format!(
        "smtpsim-client-diff-test-{program}-{}-{}.toml",
        behaviour.seed,
        std::process::id()
    ));
    std::fs::write(&file, behaviour.scenario(program, profile, knobs)).expect("write");
    let (code, out, err) = smtpsim(&[
        "diff",
        "--client",
        program,
        "--program",
        path.to_str().expect("utf-8"),
        "--profile",
        profile,
        "--replay",
        file.to_str().expect("utf-8"),
    ]);
    let _ = std::fs::remove_file(&file);
    assert!(code == 0 || code == 1, "exit {code}: {out}{err}");
    (code, out)
}

/// The line `side:` is followed by, for `name` (e.g. `connection 1`).
fn line<'a>(report: &'a str, side: &str, name: &str) -> &'a str {
    let start = report.find(&format!("{side}:\n")).expect(side);
    report[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} for {side} in {report}"))
}

fn refuse_rcpt(reply: &str, nth: Option<u32>) -> FaultEvent {
    FaultEvent::ServerReply {
        connection: 1,
        stage: ServerStage::Rcpt,
        reply: reply.into(),
        nth,
    }
}

/// Asserts what the real program did: its first connection, outcome and copies.
fn assert_real(out: &str, connection: &str, outcome: &str, copies: &str) {
    assert_eq!(line(out, "real", "connection 1"), connection, "{out}");
    assert_eq!(line(out, "real", "outcome"), outcome, "{out}");
    assert_eq!(line(out, "real", "copies"), copies, "{out}");
}

fn plain(seed: u64, keywords: &[&str], recipients: usize, events: Vec<FaultEvent>) -> Behaviour {
    Behaviour {
        seed,
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        recipients,
        events,
    }
}

#[test]
fn help_says_client() {
    let (code, out, _) = smtpsim(&["diff", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--client"), "{out}");
    assert!(out.contains("Client (--client NAME)"), "{out}");
}

#[test]
fn a_missing_program_exits_2_naming_how_to_install_it() {
    let (code, _, err) = smtpsim(&[
        "diff",
        "--client",
        "msmtp",
        "--program",
        "/nonexistent/msmtp",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("apt-get install msmtp"), "{err}");
    let (code, _, err) = smtpsim(&[
        "diff",
        "--client",
        "ssmtp",
        "--program",
        "/nonexistent/ssmtp",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dpkg-deb -x"), "{err}");
}

#[test]
fn an_unknown_program_exits_2() {
    let (code, _, err) = smtpsim(&["diff", "--client", "sendmail-8"]);
    assert_eq!(code, 2);
    assert!(err.contains("one of ssmtp, msmtp"), "{err}");
}

#[test]
fn a_missing_profile_is_a_loud_skip() {
    let Some(path) = ssmtp() else { return };
    let (code, out, _) = smtpsim(&[
        "diff",
        "--client",
        "ssmtp",
        "--program",
        path.to_str().expect("utf-8"),
        "--profile",
        "no-such-profile",
        "--behaviours",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("SKIPPED: no client profile \"no-such-profile\""),
        "{out}"
    );
}

#[test]
fn behaviours_are_seeded_and_cover_every_kind_of_fault() {
    let limits = Limits {
        timeout: Some(std::time::Duration::from_secs(5)),
    };
    assert_eq!(
        Behaviour::generate(7, limits),
        Behaviour::generate(7, limits)
    );
    let all: Vec<Behaviour> = (0..400).map(|s| Behaviour::generate(s, limits)).collect();
    let events: Vec<&FaultEvent> = all.iter().flat_map(|b| &b.events).collect();
    let has = |f: &dyn Fn(&FaultEvent) -> bool| events.iter().any(|e| f(e));
    assert!(has(&|e| matches!(
        e,
        FaultEvent::ServerReply {
            stage: ServerStage::Rcpt,
            nth: Some(2),
            ..
        }
    )));
    assert!(has(
        &|e| matches!(e, FaultEvent::ServerReply { reply, .. } if reply.starts_with("421"))
    ));
    assert!(has(
        &|e| matches!(e, FaultEvent::ServerReply { reply, .. } if reply.contains('\n'))
    ));
    assert!(has(&|e| matches!(e, FaultEvent::ServerDelay { .. })));
    assert!(has(&|e| matches!(e, FaultEvent::DropAtLine { .. })));
    assert!(has(&|e| matches!(
        e,
        FaultEvent::ServerCrashAfterDot { .. }
    )));
    assert!(all.iter().any(|b| b.events.is_empty()));
    assert!(all
        .iter()
        .any(|b| b.recipients == 3 && b.keywords.len() == 5));
    // No timeout configured: no delay past it is drawn.
    let none = Limits { timeout: None };
    assert!((0..400)
        .flat_map(|s| Behaviour::generate(s, none).events)
        .all(|e| !matches!(e, FaultEvent::ServerDelay { .. })));
}

#[test]
fn a_fault_at_the_second_rcpt_refuses_only_the_second_recipient() {
    let b = plain(
        1,
        &[],
        3,
        vec![refuse_rcpt("550 5.1.1 Mailbox unavailable", Some(2))],
    );
    let text = b.scenario("test", "pipelining", &[]);
    let scenario = smtpsim::scenario::Scenario::parse(&text, "test").expect("parses");
    let run = smtpsim::sim::run(&scenario, 1).expect("runs");
    let to: Vec<Vec<String>> = run.deliveries.iter().map(|d| d.rcpt_to.clone()).collect();
    assert_eq!(
        to,
        vec![vec![
            "bob@example.org".to_string(),
            "dave@example.org".to_string()
        ]]
    );
}

#[test]
fn ssmtp_seen_live_helo_lock_step_and_a_lone_dot_after_a_pause() {
    let Some(path) = ssmtp() else { return };
    let b = plain(3, &["PIPELINING"], 2, Vec::new());
    let (_, out) = replay("ssmtp", &path, "ssmtp", &b, &[]);
    assert_real(&out, "HELO <name> | MAIL FROM:<alice@example.org> | RCPT TO:<bob@example.org> | RCPT TO:<carol@example.org> | DATA | . (after a pause) | QUIT", "delivered", "1 (bob@example.org,carol@example.org)");
}

#[test]
fn ssmtp_seen_live_gives_up_at_a_refused_rcpt_without_quit() {
    let Some(path) = ssmtp() else { return };
    let refuse = refuse_rcpt("451 4.3.0 Local error in processing", Some(2));
    let b = plain(4, &[], 2, vec![refuse]);
    let (_, out) = replay("ssmtp", &path, "ssmtp", &b, &[]);
    assert_real(
        &out,
        "HELO <name> | MAIL FROM:<alice@example.org> | RCPT TO:<bob@example.org> | RCPT TO:<carol@example.org>",
        "failed-and-told",
        "none",
    );
}

#[test]
fn msmtp_seen_live_pipelines_the_envelope() {
    let Some(path) = program("SMTPSIM_MSMTP", &["/usr/bin/msmtp"]) else {
        return;
    };
    let b = plain(5, &["PIPELINING"], 2, Vec::new());
    let (_, out) = replay("msmtp", &path, "pipelining", &b, &[]);
    assert_eq!(
        line(&out, "real", "connection 1"),
        "EHLO <name> | MAIL FROM:<alice@example.org> + RCPT TO:<bob@example.org> + RCPT TO:<carol@example.org> + DATA | . | QUIT",
        "{out}"
    );
}

#[test]
fn postfix_seen_live_retries_a_deferral_and_delivers() {
    let Some(path) = program("SMTPSIM_POSTFIX_SBIN", &["/usr/sbin/postfix"]) else {
        return;
    };
    let tempfail = FaultEvent::ServerReply {
        connection: 1,
        stage: ServerStage::Mail,
        reply: "451 4.3.0 Local error in processing".into(),
        nth: None,
    };
    let b = plain(6, &["PIPELINING"], 1, vec![tempfail]);
    let (_, out) = replay("postfix", &path, "postfix-queue", &b, &[]);
    assert_eq!(line(&out, "real", "outcome"), "delivered", "{out}");
    assert_eq!(line(&out, "real", "attempts"), "2", "{out}");
    assert_eq!(line(&out, "real", "copies"), "1 (bob@example.org)", "{out}");
}

#[test]
fn nullmailer_seen_live_quits_after_a_refused_rcpt() {
    let Some(path) = program(
        "SMTPSIM_NULLMAILER",
        &[
            "/usr/lib/nullmailer/smtp",
            "/tmp/debs/x/usr/lib/nullmailer/smtp",
        ],
    ) else {
        return;
    };
    let refuse = refuse_rcpt("451 4.3.0 Local error in processing", None);
    let b = plain(8, &["PIPELINING"], 1, vec![refuse]);
    let (_, out) = replay("nullmailer", &path, "ssmtp", &b, &[]);
    assert_eq!(
        line(&out, "real", "connection 1"),
        "HELO <name> | MAIL FROM:<alice@example.org> | RCPT TO:<bob@example.org> | QUIT",
        "{out}"
    );
    assert_eq!(line(&out, "real", "outcome"), "failed-and-told");
}

#[test]
fn smtplib_seen_live_goes_on_past_a_refused_recipient() {
    let Some(path) = program("SMTPSIM_PYTHON", &["/usr/bin/python3"]) else {
        return;
    };
    let refuse = refuse_rcpt("550 5.1.1 Mailbox unavailable", Some(1));
    let b = plain(9, &["SIZE {size_limit}"], 2, vec![refuse]);
    let (_, out) = replay("smtplib", &path, "ssmtp", &b, &[]);
    assert_real(
        &out,
        "EHLO <name> | MAIL FROM:<alice@example.org> SIZE=* | RCPT TO:<bob@example.org> | RCPT TO:<carol@example.org> | DATA | . | QUIT",
        "delivered",
        "1 (carol@example.org)",
    );
}

#[test]
fn a_recorded_ssmtp_session_keeps_its_body_as_one_write_and_its_lone_dot_after_the_pause() {
    let Some(path) = ssmtp() else { return };
    let dir = std::env::temp_dir().join(format!("smtpsim-record-ssmtp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("ssmtp.toml");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(smtpsim::net::live_listen("127.0.0.1:0"))
        .expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let mut server = smtpsim::profile::ServerConfig::preset("postfix").expect("postfix");
    server.local_domains = vec!["*".into()];
    let opts = smtpsim::live::ServeOptions {
        listen: format!("127.0.0.1:{port}"),
        profile: "postfix".into(),
        server,
        maildir: None,
        faults: Default::default(),
        seed: 0,
        record: Some(file.clone()),
        record_exact: false,
        server_overrides: toml::Table::new(),
        format: smtpsim::format::LiveFormat::Text,
        max_connections: 10,
        tls: Default::default(),
        tls_about: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = runtime.spawn(smtpsim::live::serve_observed(
        listener,
        opts,
        Box::new(|_| {}),
        async {
            let _ = stopped.await;
        },
    ));
    let conf = dir.join("ssmtp.conf");
    std::fs::write(
        &conf,
        format!("mailhub=127.0.0.1:{port}\nhostname=ws1.example.org\n"),
    )
    .expect("conf");
    let mut child = Command::new(&path)
        .arg("-C")
        .arg(&conf)
        .arg("bob@example.org")
        .env("HOME", &dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("ssmtp runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"Subject: x\n\none\ntwo\nthree\n")
        .expect("write");
    assert!(child.wait().expect("ssmtp ends").success());
    let _ = stop.send(());
    runtime.block_on(serve).expect("joined").expect("served");
    let scenario = smtpsim::scenario::Scenario::load(&file).expect("recorded");
    let _ = std::fs::remove_dir_all(&dir);
    let steps: Vec<(u32, std::time::Duration, String)> = scenario
        .script
        .iter()
        .map(|s| {
            (
                s.after_replies,
                s.delay,
                String::from_utf8_lossy(&s.bytes).into_owned(),
            )
        })
        .collect();
    // Lock-step envelope, the body (one write per line from ssmtp) as one step, then the '.'
    // alone after ssmtp's one-second sleep, then QUIT.
    let dot = steps
        .iter()
        .position(|s| s.2 == ".\r\n")
        .expect("a step that is only the '.'");
    let body = &steps[dot - 1];
    assert!(body.2.ends_with("one\r\ntwo\r\nthree\r\n"), "{steps:?}");
    assert_eq!(
        body.0, steps[dot].0,
        "no reply between body and '.': {steps:?}"
    );
    assert!(
        steps[dot].1 >= std::time::Duration::from_millis(900),
        "{steps:?}"
    );
    assert!(
        steps[..dot - 1].iter().all(|s| s.1.is_zero()),
        "no loopback jitter: {steps:?}"
    );
    assert_eq!(steps.last().map(|s| s.2.as_str()), Some("QUIT\r\n"));
}
