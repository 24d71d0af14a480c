//! What smtpd would log, as data: the bookkeeping of `proto::maillog` driven directly (the
//! server session's use of it is checked against the real Postfix in tests/maillog.rs).

#[path = "support/virtual_clock.rs"]
mod virtual_clock;

use smtpsim::proto::maillog::{LogRecord, Observer, SmtpdLog, LOST_CONNECTION, TIMEOUT};

#[test]
fn the_summary_follows_postfixs_command_table_and_counts_failures() {
    let mut log = SmtpdLog::new();
    for (verb, ok) in [
        ("QUIT", true),
        ("rset", true),
        ("MAIL", false),
        ("MAIL", true),
        ("XYZZY", false),
        ("EHLO", true),
    ] {
        let (counted, _) = log.command(verb, b"");
        log.result(counted, ok);
    }
    let records = log.end(None, 0);
    assert_eq!(
        records,
        vec![LogRecord::Disconnect(
            " ehlo=1 mail=1/2 rset=1 quit=1 unknown=0/1 commands=4/6".into()
        )]
    );
    // Logged once.
    assert!(log.end(Some(TIMEOUT), 0).is_empty());
}

#[test]
fn no_command_at_all_is_zero_of_zero() {
    let mut log = SmtpdLog::new();
    assert_eq!(
        log.end(Some(LOST_CONNECTION), 0),
        vec![
            LogRecord::Ended {
                reason: LOST_CONNECTION,
                after: "CONNECT",
                bytes: None
            },
            LogRecord::Disconnect(" commands=0/0".into()),
        ]
    );
}

#[test]
fn improper_pipelining_is_logged_once_and_only_where_the_client_must_wait() {
    let mut log = SmtpdLog::new();
    // Before EHLO every command must wait for its reply.
    let (c, first) = log.command("HELO", b"MAIL FROM:<a@b>\r\n\x01");
    log.result(c, true);
    assert_eq!(
        first,
        Some(LogRecord::ImproperPipelining {
            after: "HELO",
            pending: "MAIL FROM:<a@b>\\r\\n\\001".into()
        })
    );
    assert_eq!(log.command("MAIL", b"RCPT TO:<c@d>\r\n").1, None);
    // After EHLO only the group-ending commands (DATA, NOOP, ...) count.
    let mut log = SmtpdLog::new();
    let (c, _) = log.command("EHLO", b"");
    log.result(c, true);
    assert_eq!(log.command("MAIL", b"RCPT TO:<c@d>\r\n").1, None);
    assert!(log.command("DATA", b"Subject: x\r\n").1.is_some());
}

#[test]
fn data_counts_only_once_its_message_is_queued() {
    let mut log = SmtpdLog::new();
    let (c, _) = log.command("DATA", b"");
    log.result(c, true);
    log.content_started();
    assert_eq!(log.content_line(b"Message-ID: <1@x>", true), None);
    assert_eq!(log.content_line(b"", true), Some(Some("<1@x>".into())));
    let records = log.end(Some(LOST_CONNECTION), 42);
    assert_eq!(
        records,
        vec![
            LogRecord::Ended {
                reason: LOST_CONNECTION,
                after: "DATA",
                bytes: Some(42)
            },
            LogRecord::Disconnect(" data=0/1 commands=0/1".into()),
        ]
    );
}

#[test]
fn an_observer_reads_a_session_off_the_wire() {
    let mut observer = Observer::default();
    let mut records = observer.reply_bytes(b"220 mx ESMTP\r\n");
    // DATA's content is not read as commands, even when it comes before the 354.
    records.extend(observer.client_bytes(b"EHLO c\r\n"));
    records.extend(observer.reply_bytes(b"250-mx\r\n250 PIPELINING\r\n"));
    records.extend(observer.client_bytes(
        b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n",
    ));
    records.extend(observer.reply_bytes(b"250 ok\r\n550 no\r\n354 go\r\n"));
    records.extend(observer.reply_bytes(b"250 queued\r\n221 bye\r\n"));
    records.extend(observer.closed(true));
    let commands: Vec<&str> = records
        .iter()
        .filter_map(|r| match r {
            LogRecord::Command(c) => Some(c.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        commands,
        ["EHLO c", "MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA", "QUIT"]
    );
    assert_eq!(
        records.last(),
        Some(&LogRecord::Disconnect(
            " ehlo=1 mail=1 rcpt=0/1 data=1 quit=1 commands=4/5".into()
        ))
    );
    assert!(
        !records.iter().any(|r| matches!(r, LogRecord::Ended { .. })),
        "QUIT was answered"
    );
}

#[test]
fn an_observer_does_not_read_a_bdat_chunk_as_commands() {
    let mut observer = Observer::default();
    let mut records = observer.reply_bytes(b"220 mx ESMTP\r\n");
    records.extend(observer.client_bytes(b"EHLO c\r\n"));
    records.extend(observer.reply_bytes(b"250-mx\r\n250 CHUNKING\r\n"));
    records.extend(observer.client_bytes(
        b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 12\r\nQUIT\r\nDATA\r\nBDAT 3 LAST\r\nend",
    ));
    records.extend(observer.reply_bytes(b"250 ok\r\n250 ok\r\n250 12 bytes\r\n"));
    records.extend(observer.reply_bytes(b"554 5.7.1 refused\r\n"));
    records.extend(observer.closed(true));
    let commands: Vec<&str> = records
        .iter()
        .filter_map(|r| match r {
            LogRecord::Command(c) => Some(c.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        commands,
        [
            "EHLO c",
            "MAIL FROM:<a@b>",
            "RCPT TO:<c@d>",
            "BDAT 12",
            "BDAT 3 LAST"
        ]
    );
    assert_eq!(
        records.last(),
        Some(&LogRecord::Disconnect(
            " ehlo=1 mail=1 rcpt=1 bdat=1/2 commands=4/5".into()
        ))
    );
}

/// The log records of a `postfix` server session fed `input` at time 0, then left alone.
fn server_log(input: &[u8], until: u64) -> Vec<String> {
    use smtpsim::profile::ServerConfig;
    use smtpsim::proto::server::{ServerEvent, ServerSession};
    let mut cfg = ServerConfig::preset("postfix").unwrap();
    cfg.mailboxes = vec!["bob@example.org".into()];
    cfg.message_size_limit = 1000;
    let mut server =
        ServerSession::new(std::sync::Arc::new(cfg), "192.0.2.1", Default::default(), 7);
    let mut now = std::time::Duration::ZERO;
    server.handle_input(now, input);
    let until = std::time::Duration::from_secs(until + 1) - std::time::Duration::from_nanos(1);
    virtual_clock::settle_until(&mut server, &mut now, until, |at, event| match event {
        ServerEvent::Log(record) => smtpsim::format::maillog::describe(&record, "c[192.0.2.1]", at),
        _ => Vec::new(),
    })
    .into_iter()
    .map(|(_, line)| line)
    .collect()
}

#[test]
fn bdat_is_logged_as_postfix_logs_it() {
    // A timeout between chunks: the bytes taken so far, each line counted with 2 for its end
    // (a bare LF too), and the line begun.
    let log = server_log(
        b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.org>\r\nBDAT 13\r\nSubject: x\nab",
        400,
    );
    assert!(
        log.contains(&"postfix/smtpd: timeout after BDAT (14 bytes) from c[192.0.2.1]".to_string()),
        "{log:#?}"
    );
    assert!(log
        .last()
        .unwrap()
        .ends_with(" ehlo=1 mail=1 rcpt=1 bdat=1 commands=4"));
    // A chunk over the size limit: refused after it is read, with a warning.
    let mut input =
        b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.org>\r\nBDAT 1001 LAST\r\n"
            .to_vec();
    input.extend(vec![b'x'; 1001]);
    input.extend(b"QUIT\r\n");
    let log = server_log(&input, 0);
    let warning = log
        .iter()
        .find(|l| l.contains("warning"))
        .expect("a warning");
    assert!(
        warning.ends_with(": BDAT request from c[192.0.2.1] exceeds message size limit"),
        "{warning}"
    );
    assert!(
        log.last()
            .unwrap()
            .ends_with(" bdat=0/1 quit=1 commands=4/5"),
        "{log:#?}"
    );
}
