//! A server crash between '.' and its 250, live and simulated: the client sees the same
//! thing in both, no reply to '.' until the restart and then a connection that is gone (a
//! close live, where the process serves others and only the connection can stand for the
//! host; a reset in the simulation, from the restarted host's stack), with the message kept.

use smtpsim::fault::{FaultEvent, FaultPlan};
use smtpsim::profile::{Dur, ServerConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

const RESTART: Duration = Duration::from_secs(2);

fn crash_plan() -> FaultPlan {
    FaultPlan {
        events: vec![FaultEvent::ServerCrashAfterDot {
            connection: 1,
            restart_after: Dur(RESTART),
        }],
    }
}

#[test]
fn live_serve_keeps_silent_until_the_restart_then_the_connection_is_gone() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(smtpsim::net::live_listen("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let opts = smtpsim::live::ServeOptions {
        listen: addr.to_string(),
        profile: "postfix".into(),
        server: ServerConfig {
            local_domains: vec!["*".into()],
            ..ServerConfig::preset("postfix").unwrap()
        },
        maildir: None,
        faults: crash_plan(),
        seed: 0,
        record: None,
        record_exact: false,
        server_overrides: toml::Table::new(),
        format: smtpsim::format::LiveFormat::Text,
        max_connections: 8,
        tls: Default::default(),
        tls_about: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(smtpsim::live::serve_quietly(listener, opts, async {
        let _ = stopped.await;
    }));

    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    let mut say = |command: &str, expect: &str, reader: &mut BufReader<std::net::TcpStream>| {
        if !command.is_empty() {
            conn.write_all(command.as_bytes()).unwrap();
        }
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(expect), "after {command:?}: {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
    };
    say("", "220", &mut reader);
    say("EHLO crash.example\r\n", "250", &mut reader);
    say("MAIL FROM:<a@example.org>\r\n", "250", &mut reader);
    say("RCPT TO:<b@example.org>\r\n", "250", &mut reader);
    say("DATA\r\n", "354", &mut reader);
    conn.write_all(b"Subject: x\r\n\r\nbody\r\n.\r\n").unwrap();
    let sent = Instant::now();
    let mut rest = Vec::new();
    // read_to_end returns when the server closes (or resets) the connection.
    let _ = reader.read_to_end(&mut rest);
    let waited = sent.elapsed();
    assert!(
        rest.is_empty(),
        "no reply to '.': {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(waited >= RESTART - Duration::from_millis(50), "{waited:?}");
    assert!(waited < RESTART + Duration::from_secs(5), "{waited:?}");
    let _ = stop.send(());
    let _ = runtime.block_on(server);
}

#[test]
fn the_simulated_client_sees_no_reply_until_the_restart_then_a_lost_connection() {
    let text = r#"
name = "crash"
seeds = [0]
[client]
profile = "smtplib"
[[client.message]]
from = "a@example.org"
to = ["b@example.org"]
body = "Subject: x\n\nbody\n"
[server]
profile = "postfix"
mailboxes = ["b@example.org"]
[[faults.event]]
kind = "server-crash-after-dot"
connection = 1
restart_after = "2s"
"#;
    let s = smtpsim::scenario::Scenario::parse(text, "crash.toml").unwrap();
    let r = smtpsim::sim::run(&s, 0).unwrap();
    let dot = r
        .events
        .iter()
        .find(|e| {
            e.from == "client"
                && matches!(&e.kind, smtpsim::transcript::EventKind::Data(b) if b.ends_with(b".\r\n"))
        })
        .expect("the client wrote '.'")
        .at;
    let lost = r
        .events
        .iter()
        .find(|e| e.from == "client" && matches!(e.kind, smtpsim::transcript::EventKind::Reset(_)))
        .expect("the client saw the connection go")
        .at;
    assert!(lost - dot >= RESTART, "{:?}", lost - dot);
    assert!(
        lost - dot < RESTART + Duration::from_secs(1),
        "{:?}",
        lost - dot
    );
    assert_eq!(r.deliveries.len(), 1, "queued before the crash");
    assert!(r.outcomes[0].in_sync_gap);
}
