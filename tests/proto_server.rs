//! `ServerSession` with the `postfix` preset against the replies, limits and timings observed
//! on a real Postfix 3.7.11 (Debian 12) and in its source (`postfix/src/smtpd/smtpd.c` of
//! https://github.com/vdukhovni/postfix).

#[path = "support/virtual_clock.rs"]
mod virtual_clock;

use smtpsim::profile::ServerConfig;
use smtpsim::proto::server::{queue_id, ServerEvent, ServerSession};
use std::sync::Arc;
use std::time::Duration;

const SALT: u64 = 7;
const BANNER: &str = "220 mail.example.org ESMTP Postfix (Debian/GNU)";
const EHLO_REPLY: &str = "250-mail.example.org\n250-PIPELINING\n250-SIZE 10240000\n250-VRFY\n250-ETRN\n\
                          250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n250 CHUNKING";
const OK: &str = "250 2.0.0 Ok";
const UNKNOWN: &str = "500 5.5.2 Error: command not recognized";
const TOO_MANY_ERRORS: &str = "421 4.7.0 mail.example.org Error: too many errors";
const BREAK_RULES: &str = "221 2.7.0 Error: I can break rules, too. Goodbye.";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The postfix preset with one local mailbox, as in the observed setup.
fn postfix() -> Arc<ServerConfig> {
    let mut cfg = ServerConfig::preset("postfix").unwrap();
    cfg.mailboxes = vec!["bob@example.org".to_string()];
    Arc::new(cfg)
}

/// An event as text: a reply's wire lines joined by `\n`, `DELIVER …`, `CLOSE`; notes and log
/// records are not on the wire and are left out.
fn render(event: &ServerEvent) -> Option<String> {
    match event {
        ServerEvent::Reply(r) => Some(r.wire_lines().join("\n")),
        ServerEvent::Deliver(d) => Some(format!(
            "DELIVER {} helo={:?} from=<{}> to={:?} body={:?}",
            d.queue_id,
            d.helo.as_deref().unwrap_or(""),
            d.mail_from,
            d.rcpt_to,
            String::from_utf8_lossy(&d.body)
        )),
        ServerEvent::Note(_) | ServerEvent::Log(_) => None,
        ServerEvent::Close => Some("CLOSE".to_string()),
        ServerEvent::Crash(after) => Some(format!("CRASH restart={after:?}")),
        ServerEvent::Content(bytes) => {
            Some(format!("CONTENT {:?}", String::from_utf8_lossy(bytes)))
        }
        ServerEvent::Discard => Some("DISCARD".to_string()),
        ServerEvent::StartTls => Some("STARTTLS".to_string()),
        ServerEvent::Injected { bytes, executed } => Some(format!(
            "INJECTED {:?} executed={executed}",
            String::from_utf8_lossy(bytes)
        )),
    }
}

/// A client talking to one session in lock step, on a virtual clock.
struct Client {
    server: ServerSession,
    now: Duration,
    idle: Duration,
}

impl Client {
    /// Connects at time 0 and reads the banner.
    fn connect() -> (Client, Vec<(Duration, String)>) {
        let cfg = postfix();
        let idle = cfg.timeout.0;
        let mut client = Client {
            server: ServerSession::new(cfg, "192.0.2.10", Duration::ZERO, SALT),
            now: Duration::ZERO,
            idle,
        };
        let banner = client.settle();
        (client, banner)
    }

    /// Connects and checks the banner.
    fn new() -> Client {
        let (client, banner) = Client::connect();
        assert_eq!(banner, vec![(Duration::ZERO, BANNER.to_string())]);
        client
    }

    /// Takes every event, advancing the clock to delayed ones (never to the idle timeout).
    fn settle(&mut self) -> Vec<(Duration, String)> {
        let before_idle = self.now + self.idle - Duration::from_nanos(1);
        virtual_clock::settle_until(&mut self.server, &mut self.now, before_idle, |_, e| {
            render(&e)
        })
    }

    /// Sends raw bytes now and waits for whatever they cause.
    fn send(&mut self, bytes: &[u8]) -> Vec<(Duration, String)> {
        self.server.handle_input(self.now, bytes);
        self.settle()
    }

    /// Sends one CRLF-terminated line; returns the events without times.
    fn line(&mut self, line: &str) -> Vec<String> {
        self.send(format!("{line}\r\n").as_bytes())
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// Sends each line in turn and checks what comes back.
    fn expect(&mut self, script: &[(&str, &[&str])]) {
        for (line, expected) in script {
            assert_eq!(self.line(line), *expected, "after {line:?}");
        }
    }
}

/// `250 … queued as <id>` for the n-th message of a session.
fn queued(n: u64) -> String {
    format!("250 2.0.0 Ok: queued as {}", queue_id(SALT, n))
}

#[test]
fn banner_and_idle_timeout() {
    let (mut c, banner) = Client::connect();
    assert_eq!(banner, vec![(Duration::ZERO, BANNER.to_string())]);
    assert_eq!(
        c.server.poll_timeout(),
        Some(secs(300)),
        "smtpd_timeout = 300s"
    );
    c.server.handle_timeout(secs(299));
    assert!(c.server.poll_event(secs(299)).is_none(), "not yet");
    c.now = secs(300);
    c.server.handle_timeout(c.now);
    assert_eq!(
        c.settle(),
        vec![
            (
                secs(300),
                "421 4.4.2 mail.example.org Error: timeout exceeded".to_string()
            ),
            (secs(300), "CLOSE".to_string())
        ]
    );
    assert!(c.server.is_closed());
    assert_eq!(c.server.poll_timeout(), None);
}

#[test]
fn idle_timeout_counts_from_the_last_command() {
    let mut c = Client::new();
    c.now = secs(200);
    assert_eq!(c.line("NOOP"), [OK]);
    assert_eq!(c.server.poll_timeout(), Some(secs(500)));
    c.server.handle_timeout(secs(300));
    assert!(
        c.settle().is_empty(),
        "the NOOP at 200 s restarted the clock"
    );
    c.now = secs(500);
    c.server.handle_timeout(c.now);
    assert_eq!(c.settle().last().map(|(_, e)| e.as_str()), Some("CLOSE"));
}

#[test]
fn a_byte_a_second_is_cut_only_under_a_per_record_deadline() {
    for deadline in [false, true] {
        let mut cfg = (*postfix()).clone();
        cfg.per_record_deadline = deadline;
        let mut server = ServerSession::new(Arc::new(cfg), "192.0.2.1", Duration::ZERO, SALT);
        while server.poll_event(Duration::ZERO).is_some() {}
        // A slowloris: one byte a second of a line that never ends, for 20 minutes.
        let mut cut_at = None;
        for i in 1..=1200 {
            let now = secs(i);
            server.handle_timeout(now);
            if server.is_closed() {
                cut_at = Some(now);
                break;
            }
            server.handle_input(now, b"X");
        }
        let expected = deadline.then_some(secs(300));
        assert_eq!(cut_at, expected, "per_record_deadline = {deadline}");
    }
}

#[test]
fn idle_timeout_during_data_delivers_nothing() {
    let mut c = Client::new();
    c.expect(&[
        ("EHLO client.example", &[EHLO_REPLY]),
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
        ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
        ("half a message", &[]),
    ]);
    c.now += secs(300);
    c.server.handle_timeout(c.now);
    assert_eq!(
        c.settle(),
        vec![
            (
                c.now,
                "421 4.4.2 mail.example.org Error: timeout exceeded".into()
            ),
            (c.now, "CLOSE".into())
        ]
    );
}

#[test]
fn helo_and_ehlo() {
    let cases: &[(&str, &[&str])] = &[
        ("HELO client.example", &["250 mail.example.org"]),
        ("helo client.example", &["250 mail.example.org"]),
        ("HELO", &["501 Syntax: HELO hostname"]),
        ("HELO   ", &["501 Syntax: HELO hostname"]),
        ("EHLO", &["501 Syntax: EHLO hostname"]),
        ("EHLO client.example", &[EHLO_REPLY]),
        ("ehlo client.example", &[EHLO_REPLY]),
        ("  EHLO client.example", &[EHLO_REPLY]),
    ];
    for (line, expected) in cases {
        let mut c = Client::new();
        assert_eq!(c.line(line), *expected, "{line:?}");
    }
}

#[test]
fn mail_rcpt_data_ordering_and_syntax() {
    // Each script runs on a fresh session after EHLO.
    let scripts: &[&[(&str, &[&str])]] = &[
        &[("RCPT TO:<bob@example.org>", &["503 5.5.1 Error: need MAIL command"])],
        &[("DATA", &["503 5.5.1 Error: need RCPT command"])],
        &[
            ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
            ("MAIL FROM:<alice@client.example>", &["503 5.5.1 Error: nested MAIL command"]),
        ],
        &[("MAIL FROM:<>", &["250 2.1.0 Ok"])],
        &[("MAIL FROM: <alice@client.example>", &["250 2.1.0 Ok"])],
        &[("MAIL FROM:alice@client.example", &["250 2.1.0 Ok"])],
        &[("mail from:<alice@client.example> SIZE=1000 BODY=8BITMIME", &["250 2.1.0 Ok"])],
        &[("MAIL TO:<alice@client.example>", &["501 5.5.4 Syntax: MAIL FROM:<address>"])],
        &[("MAIL", &["501 5.5.4 Syntax: MAIL FROM:<address>"])],
        &[("MAIL FROM:", &["501 5.5.4 Syntax: MAIL FROM:<address>"])],
        &[("MAIL FROM:<alice@client.example", &["501 5.1.7 Bad sender address syntax"])],
        &[
            ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
            ("RCPT FROM:<bob@example.org>", &["501 5.5.4 Syntax: RCPT TO:<address>"]),
            ("RCPT TO:", &["501 5.5.4 Syntax: RCPT TO:<address>"]),
            ("RCPT TO:<bob@example.org", &["501 5.1.3 Bad recipient address syntax"]),
            ("RCPT TO:<>", &["501 5.1.3 Bad recipient address syntax"]),
            (
                "RCPT TO:<nobody@example.org>",
                &["550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table"],
            ),
            ("RCPT TO:<alice@elsewhere.net>", &["454 4.7.1 <alice@elsewhere.net>: Relay access denied"]),
            ("RCPT TO:<bob%elsewhere.net@example.org>", &["454 4.7.1 <bob%elsewhere.net@example.org>: Relay access denied"]),
            ("RCPT TO:<elsewhere.net!bob@example.org>", &["454 4.7.1 <elsewhere.net!bob@example.org>: Relay access denied"]),
            ("RCPT TO:<bob@EXAMPLE.ORG>", &["250 2.1.5 Ok"]),
            ("RCPT TO:<Bob@mail.example.org>", &["250 2.1.5 Ok"]),
            ("RCPT TO:bob@example.org", &["250 2.1.5 Ok"]),
            ("DATA x", &["501 5.5.4 Syntax: DATA"]),
            ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
        ],
        // Every recipient refused: 554, even for `DATA x`.
        &[
            ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
            ("RCPT TO:<alice@elsewhere.net>", &["454 4.7.1 <alice@elsewhere.net>: Relay access denied"]),
            ("DATA x", &["554 5.5.1 Error: no valid recipients"]),
            ("DATA", &["554 5.5.1 Error: no valid recipients"]),
        ],
        // SIZE over the limit, and the refusal sticks for the session.
        &[
            ("MAIL FROM:<alice@client.example> SIZE=99999999", &["552 5.3.4 Message size exceeds fixed limit"]),
            ("MAIL FROM:<alice@client.example>", &["552 5.3.4 Message size exceeds fixed limit"]),
        ],
        &[("MAIL FROM:<alice@client.example> SIZE=10240000", &["250 2.1.0 Ok"])],
    ];
    for script in scripts {
        let mut c = Client::new();
        c.expect(&[("EHLO client.example", &[EHLO_REPLY])]);
        c.expect(script);
    }
}

#[test]
fn data_after_mail_without_any_rcpt_is_554() {
    let mut c = Client::new();
    c.expect(&[
        ("EHLO client.example", &[EHLO_REPLY]),
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("DATA", &["554 5.5.1 Error: no valid recipients"]),
        ("DATA x", &["554 5.5.1 Error: no valid recipients"]),
    ]);
}

#[test]
fn second_message_gets_the_next_queue_id() {
    let mut c = Client::new();
    c.expect(&[
        ("EHLO client.example", &[EHLO_REPLY]),
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
        ("RCPT TO:<Bob@mail.example.org>", &["250 2.1.5 Ok"]),
        ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
    ]);
    let first: Vec<String> = c.send(b"x\r\n.\r\n").into_iter().map(|(_, e)| e).collect();
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(
        first[0].starts_with(&format!("DELIVER {} ", queue_id(SALT, 1))),
        "{first:?}"
    );
    assert_eq!(first[1], queued(1));
    c.expect(&[
        ("MAIL FROM:<>", &["250 2.1.0 Ok"]),
        ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
        ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
        ("body", &[]),
    ]);
    let delivered = c.line(".");
    assert_eq!(
        delivered,
        [
            format!("DELIVER {} helo=\"client.example\" from=<> to=[\"bob@example.org\"] body=\"body\\r\\n\"", queue_id(SALT, 2)),
            queued(2),
        ]
    );
    assert_ne!(queue_id(SALT, 1), queue_id(SALT, 2));
    c.expect(&[("QUIT", &["221 2.0.0 Bye", "CLOSE"])]);
}

#[test]
fn deliver_event_carries_envelope_and_body() {
    let mut c = Client::new();
    c.expect(&[
        ("HELO client.example", &["250 mail.example.org"]),
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
        ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
    ]);
    let events = c.send(b"Subject: hi\r\n\r\n..leading dot\r\n.\r\n");
    let expected_body = "Subject: hi\\r\\n\\r\\n.leading dot\\r\\n";
    assert_eq!(
        events,
        vec![
            (
                c.now,
                format!(
                    "DELIVER {} helo=\"client.example\" from=<alice@client.example> to=[\"bob@example.org\"] body=\"{expected_body}\"",
                    queue_id(SALT, 1)
                )
            ),
            (c.now, queued(1)),
        ]
    );
}

#[test]
fn rset() {
    let mut c = Client::new();
    c.expect(&[
        ("EHLO client.example", &[EHLO_REPLY]),
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
        // With an argument: a syntax error, and the transaction is NOT reset.
        ("RSET x", &["501 5.5.4 Syntax: RSET"]),
        ("MAIL FROM:<alice@client.example>", &["503 5.5.1 Error: nested MAIL command"]),
        ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
        (".", &[&format!("DELIVER {} helo=\"client.example\" from=<alice@client.example> to=[\"bob@example.org\"] body=\"\"", queue_id(SALT, 1)), &queued(1)]),
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("RSET", &[OK]),
        ("RCPT TO:<bob@example.org>", &["503 5.5.1 Error: need MAIL command"]),
        ("DATA", &["503 5.5.1 Error: need RCPT command"]),
    ]);
}

#[test]
fn other_commands() {
    let cases: &[(&str, &[&str])] = &[
        ("NOOP", &[OK]),
        ("NOOP with arguments", &[OK]),
        ("noop", &[OK]),
        (" NOOP", &[OK]),
        ("\tNOOP", &[OK]),
        ("QUIT", &["221 2.0.0 Bye", "CLOSE"]),
        ("QUIT now", &["221 2.0.0 Bye", "CLOSE"]),
        ("FROB", &[UNKNOWN]),
        ("HELP", &[UNKNOWN]),
        ("EXPN staff", &[UNKNOWN]),
        ("", &["500 5.5.2 Error: bad syntax"]),
        ("   ", &["500 5.5.2 Error: bad syntax"]),
        ("\t", &["500 5.5.2 Error: bad syntax"]),
        (
            "VRFY alice@elsewhere.net",
            &["454 4.7.1 <alice@elsewhere.net>: Relay access denied"],
        ),
        (
            "VRFY <alice@elsewhere.net>",
            &["454 4.7.1 <alice@elsewhere.net>: Relay access denied"],
        ),
        // Header-like lines and forbidden commands: Postfix hangs up.
        ("Subject: x", &[BREAK_RULES, "CLOSE"]),
        ("X-Foo: bar", &[BREAK_RULES, "CLOSE"]),
        (
            "CONNECT mail.example.org:25 HTTP/1.0",
            &[BREAK_RULES, "CLOSE"],
        ),
        ("GET / HTTP/1.0", &[BREAK_RULES, "CLOSE"]),
        ("POST /cgi-bin/x HTTP/1.0", &[BREAK_RULES, "CLOSE"]),
        (".", &[BREAK_RULES, "CLOSE"]),
        ("123", &[BREAK_RULES, "CLOSE"]),
    ];
    for (line, expected) in cases {
        let mut c = Client::new();
        c.expect(&[("EHLO client.example", &[EHLO_REPLY])]);
        assert_eq!(c.line(line), *expected, "{line:?}");
        if expected.last() == Some(&"CLOSE") {
            assert!(c.server.is_closed());
            assert!(
                c.line("NOOP").is_empty(),
                "nothing after the close ({line:?})"
            );
        }
    }
}

#[test]
fn bare_lf_ends_lines_and_bare_cr_does_not() {
    let mut c = Client::new();
    assert_eq!(
        c.send(b"EHLO client.example\nNOOP\n")
            .into_iter()
            .map(|(_, e)| e)
            .collect::<Vec<_>>(),
        [EHLO_REPLY, OK]
    );
    // `NOOP\rQUIT` is one command: a NOOP (Postfix splits words on any white space).
    assert_eq!(
        c.send(b"NOOP\rQUIT\r\n")
            .into_iter()
            .map(|(_, e)| e)
            .collect::<Vec<_>>(),
        [OK]
    );
    assert!(!c.server.is_closed());

    for end in [&b"\n.\n"[..], b"\n.\r\n", b"\r\n.\n", b"\r\n.\r\n"] {
        let mut c = Client::new();
        c.expect(&[
            ("EHLO client.example", &[EHLO_REPLY]),
            ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
            ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
            ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
        ]);
        let mut body = b"line one".to_vec();
        body.extend_from_slice(end);
        let events: Vec<String> = c.send(&body).into_iter().map(|(_, e)| e).collect();
        assert_eq!(events.len(), 2, "{end:?} ends the message: {events:?}");
        assert!(
            events[0].ends_with("body=\"line one\\r\\n\""),
            "{end:?}: {}",
            events[0]
        );
        assert_eq!(events[1], queued(1));
    }

    // A bare CR before the dot does not end the message.
    let mut c = Client::new();
    c.expect(&[
        ("EHLO client.example", &[EHLO_REPLY]),
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
        ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
    ]);
    assert!(c.send(b"line one\r.\r\n").is_empty());
    let events: Vec<String> = c.send(b".\r\n").into_iter().map(|(_, e)| e).collect();
    assert!(
        events[0].ends_with("body=\"line one\\r.\\r\\n\""),
        "{}",
        events[0]
    );
}

#[test]
fn long_command_lines_are_cut_at_2048_without_an_error() {
    let mut c = Client::new();
    for len in [600, 2048 - 5, 2048 - 4, 5000] {
        let line = format!("NOOP {}", "x".repeat(len));
        assert_eq!(c.line(&line), [OK], "NOOP with {len} bytes of argument");
    }
    // The rest of a cut line is discarded, not read as a command.
    let line = format!("NOOP {}QUIT", " ".repeat(2048));
    assert_eq!(c.line(&line), [OK]);
    assert!(!c.server.is_closed());
    assert_eq!(c.line("QUIT"), ["221 2.0.0 Bye", "CLOSE"]);
}

#[test]
fn pipelined_data_after_all_recipients_rejected_is_read_as_commands() {
    let mut c = Client::new();
    c.expect(&[("EHLO client.example", &[EHLO_REPLY])]);
    let events: Vec<String> = c
        .send(b"MAIL FROM:<alice@client.example>\r\nRCPT TO:<x@elsewhere.net>\r\nDATA\r\nbody line\r\n.\r\n")
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(
        events,
        [
            "250 2.1.0 Ok",
            "454 4.7.1 <x@elsewhere.net>: Relay access denied",
            "554 5.5.1 Error: no valid recipients",
            UNKNOWN,
            BREAK_RULES,
            "CLOSE",
        ]
    );
}

#[test]
fn eof_during_data_delivers_nothing() {
    let mut c = Client::new();
    c.expect(&[
        ("EHLO client.example", &[EHLO_REPLY]),
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
        ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
        ("Subject: almost", &[]),
    ]);
    assert!(c.send(b"\r\nbody without the dot\r\n.").is_empty());
    c.server.handle_eof(c.now);
    assert_eq!(c.settle(), vec![(c.now, "CLOSE".to_string())]);
    assert!(c.server.is_closed());
}

#[test]
fn junk_command_limit() {
    let mut c = Client::new();
    c.expect(&[("EHLO client.example", &[EHLO_REPLY])]);
    for n in 1..=120u64 {
        let sent = c.now;
        let events = c.send(b"NOOP\r\n");
        let delay = if n <= 110 { secs(0) } else { secs(1) };
        assert_eq!(events[0], (sent + delay, OK.to_string()), "NOOP {n}");
        if n < 120 {
            assert_eq!(events.len(), 1, "NOOP {n}: {events:?}");
        } else {
            // After the 120th, the error count is 20: 421 (itself delayed 1 s), and close.
            assert_eq!(
                events[1..],
                [
                    (sent + secs(2), TOO_MANY_ERRORS.to_string()),
                    (sent + secs(2), "CLOSE".to_string())
                ],
                "after NOOP 120"
            );
        }
    }
    assert!(c.server.is_closed());
    assert!(c.line("NOOP").is_empty(), "NOOP 121 gets nothing more");
}

#[test]
fn junk_count_resets_after_a_delivered_message() {
    let mut c = Client::new();
    c.expect(&[("EHLO client.example", &[EHLO_REPLY])]);
    for _ in 0..105 {
        assert_eq!(c.line("NOOP"), [OK]);
    }
    // Five junk errors so far; a delivered message clears them and the junk count.
    c.expect(&[
        ("MAIL FROM:<alice@client.example>", &["250 2.1.0 Ok"]),
        ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
        ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
    ]);
    assert_eq!(c.send(b"x\r\n.\r\n").len(), 2);
    for n in 1..=105 {
        let sent = c.now;
        assert_eq!(
            c.send(b"NOOP\r\n"),
            vec![(sent, OK.to_string())],
            "NOOP {n} after delivery is instant"
        );
    }
}

#[test]
fn error_limits_with_unknown_commands() {
    let mut c = Client::new();
    c.expect(&[("EHLO client.example", &[EHLO_REPLY])]);
    for n in 1..=20u64 {
        let sent = c.now;
        let events = c.send(b"FROB\r\n");
        let delay = if n <= 10 { secs(0) } else { secs(1) };
        assert_eq!(
            events[0],
            (sent + delay, UNKNOWN.to_string()),
            "unknown command {n}"
        );
        if n < 20 {
            assert_eq!(events.len(), 1, "unknown command {n}: {events:?}");
        } else {
            assert_eq!(
                events[1..],
                [
                    (sent + secs(2), TOO_MANY_ERRORS.to_string()),
                    (sent + secs(2), "CLOSE".to_string())
                ]
            );
        }
    }
    assert!(c.server.is_closed());
}

#[test]
fn once_ten_errors_are_counted_every_reply_is_delayed() {
    let mut c = Client::new();
    c.expect(&[("EHLO client.example", &[EHLO_REPLY])]);
    for _ in 0..10 {
        assert_eq!(c.line("FROB"), [UNKNOWN]);
    }
    for line in [
        "NOOP",
        "MAIL FROM:<alice@client.example>",
        "RCPT TO:<bob@example.org>",
    ] {
        let sent = c.now;
        let events = c.send(format!("{line}\r\n").as_bytes());
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, sent + secs(1), "{line} delayed by error_sleep");
        assert!(events[0].1.starts_with("250 "), "{line}: {}", events[0].1);
    }
}

/// A complete session (one refused recipient): every line and the start of each event it causes.
const FULL_SESSION: &[(&str, &[&str])] = &[
    ("EHLO client.example", &[EHLO_REPLY]),
    ("MAIL FROM:<alice@client.example> SIZE=100", &["250 2.1.0 Ok"]),
    ("RCPT TO:<bob@example.org>", &["250 2.1.5 Ok"]),
    ("RCPT TO:<nobody@example.org>", &["550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table"]),
    ("DATA", &["354 End data with <CR><LF>.<CR><LF>"]),
    ("Subject: chunked", &[]),
    ("", &[]),
    ("..dotted", &[]),
    ("last line", &[]),
    (".", &["DELIVER", "250 2.0.0 Ok: queued as"]),
    ("NOOP", &[OK]),
    ("RSET", &[OK]),
    ("QUIT", &["221 2.0.0 Bye", "CLOSE"]),
];

#[test]
fn full_session_whatever_the_chunking() {
    // In lock step, one line at a time.
    let mut c = Client::new();
    let mut lockstep = vec![BANNER.to_string()];
    for (line, expected) in FULL_SESSION {
        let events = c.line(line);
        assert_eq!(events.len(), expected.len(), "{line:?}: {events:?}");
        for (event, prefix) in events.iter().zip(expected.iter()) {
            assert!(
                event.starts_with(prefix),
                "{line:?}: {event:?} should start with {prefix:?}"
            );
        }
        lockstep.extend(events);
    }
    assert!(lockstep
        .iter()
        .any(|e| e.contains("body=\"Subject: chunked\\r\\n\\r\\n.dotted\\r\\nlast line\\r\\n\"")));

    // Pipelined, in 1-, 3- and 17-byte pieces: the same events in the same order.
    let wire: Vec<u8> = FULL_SESSION
        .iter()
        .flat_map(|(line, _)| format!("{line}\r\n").into_bytes())
        .collect();
    for chunk in [1, 3, 17] {
        let (mut c, banner) = Client::connect();
        let mut events: Vec<String> = banner.into_iter().map(|(_, e)| e).collect();
        for piece in wire.chunks(chunk) {
            events.extend(c.send(piece).into_iter().map(|(_, e)| e));
        }
        assert_eq!(events, lockstep, "chunk size {chunk}");
        assert!(c.server.is_closed());
    }
}

#[test]
fn a_streaming_session_hands_content_out_and_keeps_nothing() {
    let mut session = ServerSession::new(postfix(), "192.0.2.1", Duration::ZERO, SALT);
    session.set_streaming(true);
    let mut events = Vec::new();
    let mut feed = |session: &mut ServerSession, bytes: &[u8]| {
        session.handle_input(Duration::ZERO, bytes);
        while let Some(e) = session.poll_event(Duration::ZERO) {
            events.push(e);
        }
    };
    feed(
        &mut session,
        b"HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
    );
    feed(&mut session, b"Subject: s\r\n\r\n..dot\r\n");
    feed(&mut session, b"tail\r\n.\r\n");
    let content: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Content(b) => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(content, b"Subject: s\r\n\r\n.dot\r\ntail\r\n");
    let delivery = events
        .iter()
        .find_map(|e| match e {
            ServerEvent::Deliver(d) => Some(d.clone()),
            _ => None,
        })
        .expect("delivered");
    assert!(delivery.body.is_empty());
    assert_eq!(delivery.size, content.len() as u64);

    // A connection lost mid-message: the streamed part is discarded.
    let mut events = Vec::new();
    let mut cut = ServerSession::new(postfix(), "192.0.2.1", Duration::ZERO, SALT);
    cut.set_streaming(true);
    cut.handle_input(
        Duration::ZERO,
        b"HELO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nhalf\r\n",
    );
    cut.handle_eof(Duration::ZERO);
    while let Some(e) = cut.poll_event(Duration::ZERO) {
        events.push(e);
    }
    assert!(events.iter().any(|e| matches!(e, ServerEvent::Content(_))));
    assert!(events.iter().any(|e| matches!(e, ServerEvent::Discard)));
    assert!(!events.iter().any(|e| matches!(e, ServerEvent::Deliver(_))));
}

// STARTTLS (RFC 3207) as Postfix's smtpd_tls does it (smtpd.c starttls_cmd()).

#[test]
fn starttls_hands_over_to_the_handshake_and_starts_over_inside_tls() {
    let mut c = Client::new();
    c.expect(&[
        ("EHLO relay.example.net", &[EHLO_REPLY]),
        ("MAIL FROM:<alice@example.net>", &["250 2.1.0 Ok"]),
        ("STARTTLS extra", &["501 5.5.4 Syntax: STARTTLS"]),
        ("STARTTLS", &["220 2.0.0 Ready to start TLS", "STARTTLS"]),
    ]);
    // Nothing is read as SMTP until the handshake's outcome is known.
    assert_eq!(c.line("NOOP"), Vec::<String>::new());
    c.server.handle_tls(c.now, Ok(()));
    assert!(c.server.tls_active());
    let inside = c.settle();
    assert_eq!(
        inside.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        ["INJECTED \"NOOP\\r\\n\" executed=false"],
        "what came before the handshake is thrown away (CVE-2011-0411 fix)"
    );
    let ehlo_inside = EHLO_REPLY.replace("250-STARTTLS\n", "");
    c.expect(&[
        // The transaction was forgotten with the HELO name.
        (
            "RCPT TO:<bob@example.org>",
            &["503 5.5.1 Error: need MAIL command"],
        ),
        ("EHLO relay.example.net", &[ehlo_inside.as_str()]),
        ("STARTTLS", &["554 5.5.1 Error: TLS already active"]),
    ]);
}

#[test]
fn a_vulnerable_server_runs_what_was_pipelined_before_the_handshake() {
    let mut cfg = (*postfix()).clone();
    cfg.tls_discard_pipelined = false;
    let mut server = ServerSession::new(Arc::new(cfg), "192.0.2.10", Duration::ZERO, SALT);
    server.handle_input(Duration::ZERO, b"EHLO x\r\nSTARTTLS\r\nRSET\r\n");
    let mut events = Vec::new();
    while let Some(e) = server.poll_event(Duration::ZERO) {
        events.extend(render(&e));
    }
    assert_eq!(events.last().map(String::as_str), Some("STARTTLS"));
    server.handle_tls(Duration::ZERO, Ok(()));
    let mut inside = Vec::new();
    while let Some(e) = server.poll_event(Duration::ZERO) {
        inside.extend(render(&e));
    }
    assert_eq!(
        inside,
        ["INJECTED \"RSET\\r\\n\" executed=true", OK],
        "the injected RSET is answered inside TLS"
    );
}

#[test]
fn a_failed_handshake_ends_the_session_and_no_tls_means_no_starttls() {
    let mut c = Client::new();
    c.line("EHLO relay.example.net");
    c.line("STARTTLS");
    c.server.handle_tls(c.now, Err("bad record".into()));
    assert_eq!(
        c.settle().into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        ["CLOSE"]
    );

    let mut c = Client::new();
    c.server.set_tls_available(false);
    let without = EHLO_REPLY.replace("250-STARTTLS\n", "");
    c.expect(&[
        ("EHLO relay.example.net", &[without.as_str()]),
        ("STARTTLS", &["502 5.5.1 Error: command not implemented"]),
    ]);
}
