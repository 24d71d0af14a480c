//! What smtpd would log, as data: the bookkeeping of `proto::maillog` driven directly (the
//! server session's use of it is checked against the real Postfix in tests/maillog.rs).

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
