//! The interceptor's rules and content changes without IO: blocked verbs, the limits that drop
//! the connection, the EHLO and QUIT rewrites, the signature cut, the subject tag and footer;
//! each preset of the middlebox catalogue on the writes it makes.

mod interceptor_drive;

use interceptor_drive::*;
use smtpsim::profile::InterceptorConfig;

const DROPPED: [&str; 2] = ["CLOSE client", "CLOSE server"];

fn preset_with(name: &str, change: impl FnOnce(&mut InterceptorConfig)) -> Drive {
    let mut cfg = InterceptorConfig::preset(name).unwrap();
    change(&mut cfg);
    Drive::with(cfg)
}

/// The envelope relayed, then DATA relayed and the server's 354 passed on.
fn into_relayed_data(d: &mut Drive) {
    d.envelope();
    assert_eq!(d.client_sends("DATA\r\n"), ["S> DATA"]);
    assert_eq!(d.server_sends("354 go ahead\r\n"), ["C< 354 go ahead"]);
}

#[test]
fn norton_answers_starttls_itself_and_rewrites_the_221() {
    let mut d = Drive::new("norton-av");
    d.server_sends(BANNER);
    assert_eq!(
        d.client_sends("STARTTLS\r\n"),
        ["C< 500 Unsupported command."],
        "never sent upstream"
    );
    assert_eq!(d.client_sends("QUIT\r\n"), ["S> QUIT"]);
    assert_eq!(
        d.server_sends("221 2.0.0 Bye\r\n"),
        ["C< 221 Closing connection. Good bye."]
    );
}

#[test]
fn untangle_sends_ehlo_upstream_as_helo_with_the_same_name() {
    let mut d = Drive::new("untangle");
    d.server_sends(BANNER);
    assert_eq!(
        d.client_sends("EHLO relay.example.net\r\n"),
        ["S> HELO relay.example.net"]
    );
    assert_eq!(
        d.server_sends("250 mail.example.org\r\n"),
        ["C< 250 mail.example.org"]
    );
    assert_eq!(d.client_sends("HELO x\r\n"), ["S> HELO x"]);
    assert_eq!(
        d.client_sends(" \x0bEHLO y\r\n"),
        ["S> HELO y"],
        "blanks before the verb"
    );
}

#[test]
fn fortigate_cuts_the_server_mid_data_at_the_signature_and_refuses_the_dot() {
    let mut d = Drive::new("fortigate-splice");
    into_relayed_data(&mut d);
    assert_eq!(
        d.client_sends("Subject: t\r\n\r\nclean\r\n"),
        ["S> Subject: t | S>  | S> clean"],
        "streamed while scanned"
    );
    assert_eq!(
        d.client_sends("x EICAR-STANDARD-ANTIVIRUS-TEST-FILE y\r\nmore\r\n"),
        ["CLOSE server"],
        "the signature line and what follows never reach the server"
    );
    assert_eq!(d.client_sends("tail\r\n"), Vec::<String>::new());
    assert_eq!(
        d.client_sends(".\r\n"),
        [
            "C< 554 5.7.1 Message refused: a threat was found in it",
            "CLOSE client"
        ]
    );
    assert!(d.session.is_closed());
}

#[test]
fn a_detection_in_a_held_message_refuses_it_and_sends_nothing_upstream() {
    let mut d = preset_with("fortigate-splice", |c| {
        c.data_reply = "354 Please start mail input.".into();
    });
    d.envelope();
    assert_eq!(
        d.client_sends("DATA\r\n"),
        ["C< 354 Please start mail input."]
    );
    assert_eq!(
        d.client_sends("EICAR-STANDARD-ANTIVIRUS-TEST-FILE\r\n.\r\n"),
        ["C< 554 5.7.1 Message refused: a threat was found in it"]
    );
    assert_eq!(
        d.client_sends("QUIT\r\n"),
        ["S> QUIT"],
        "the session goes on"
    );
}

#[test]
fn a_clean_message_passes_the_splice_scanner_unchanged() {
    let mut d = Drive::new("fortigate-splice");
    into_relayed_data(&mut d);
    assert_eq!(
        d.client_sends("EICAR is a word\r\n.\r\n"),
        ["S> EICAR is a word | S> ."]
    );
}

#[test]
fn symantec_mail_security_drops_the_session_at_bdat() {
    let mut d = Drive::new("symantec-mail-security");
    d.envelope();
    assert_eq!(d.client_sends("BDAT 4 LAST\r\nhi\r\n"), DROPPED);
    assert!(d.session.is_closed());
    assert_eq!(d.server_sends("250 late\r\n"), Vec::<String>::new());
}

#[test]
fn stormshield_refuses_a_pipelined_bdat_in_order_and_throws_its_chunk_away() {
    let mut d = Drive::new("stormshield");
    d.server_sends(BANNER);
    d.client_sends("EHLO mail1.fabrikam.com\r\n");
    d.server_sends("250-mail.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    assert_eq!(
        d.client_sends(
            "MAIL FROM:<a@fabrikam.com>\r\nRCPT TO:<b@example.org>\r\nBDAT 9 LAST\r\nQUIT\r\nxx\r\n"
        ),
        ["S> MAIL FROM:<a@fabrikam.com> | S> RCPT TO:<b@example.org>"],
        "the chunk's bytes (`QUIT\\r\\nxx\\r\\n`... the first 9) are data, not commands"
    );
    assert_eq!(d.server_sends("250 2.1.0 Ok\r\n"), ["C< 250 2.1.0 Ok"]);
    assert_eq!(
        d.server_sends("250 2.1.5 Ok\r\n"),
        ["C< 250 2.1.5 Ok | C< 502 5.5.1 Command not allowed"]
    );
    assert_eq!(
        d.client_sends("STARTTLS\r\n"),
        ["C< 502 5.5.1 Command not allowed"]
    );
    assert_eq!(d.client_sends("RSET\r\n"), ["S> RSET"]);
}

#[test]
fn stormshield_drops_a_server_reply_line_over_its_cap() {
    let mut d = Drive::new("stormshield");
    d.server_sends(BANNER);
    d.client_sends("HELO x\r\n");
    let long = format!("250 {}\r\n", "a".repeat(1021));
    assert_eq!(d.server_sends(&long), DROPPED, "1025 bytes");
    let mut d = Drive::new("stormshield");
    d.server_sends(BANNER);
    d.client_sends("HELO x\r\n");
    let fits = format!("250 {}\r\n", "a".repeat(1020));
    assert_eq!(d.server_sends(&fits).len(), 1, "1024 bytes pass");
}

#[test]
fn asa_drops_a_command_line_over_512_bytes_and_passes_512() {
    let mut d = Drive::new("asa-esmtp");
    d.server_sends(BANNER);
    let fits = format!("HELO {}\r\n", "h".repeat(507));
    assert_eq!(d.client_sends(&fits).len(), 1, "512 bytes pass");
    d.server_sends("250 ok\r\n");
    let long = format!("HELO {}\r\n", "h".repeat(508));
    assert_eq!(d.client_sends(&long), DROPPED);
}

#[test]
fn asa_drops_the_101st_rcpt_of_a_transaction_and_counts_again_after_rset() {
    let mut d = Drive::new("asa-esmtp");
    d.server_sends(BANNER);
    d.client_sends("HELO x\r\nMAIL FROM:<a@example.net>\r\n");
    for i in 0..100 {
        let out = d.client_sends(&format!("RCPT TO:<u{i}@example.org>\r\n"));
        assert_eq!(out.len(), 1, "RCPT {}", i + 1);
    }
    assert_eq!(d.client_sends("RSET\r\n"), ["S> RSET"]);
    d.client_sends("MAIL FROM:<a@example.net>\r\n");
    for i in 0..100 {
        d.client_sends(&format!("RCPT TO:<u{i}@example.org>\r\n"));
    }
    assert_eq!(
        d.client_sends("RCPT TO:<one-more@example.org>\r\n"),
        DROPPED
    );
}

#[test]
fn asa_drops_a_sender_over_320_bytes() {
    let mut d = Drive::new("asa-esmtp");
    d.server_sends(BANNER);
    d.client_sends("HELO x\r\n");
    let fits = format!("MAIL FROM:<{}@example.net>\r\n", "a".repeat(308));
    assert_eq!(d.client_sends(&fits).len(), 1, "320 bytes pass");
    d.client_sends("RSET\r\n");
    let long = format!("MAIL FROM:<{}@example.net>\r\n", "a".repeat(309));
    assert_eq!(d.client_sends(&long), DROPPED);
}

#[test]
fn asa_drops_the_connection_at_a_header_line_over_998_bytes_but_not_a_body_line() {
    let mut d = Drive::new("asa-esmtp");
    into_relayed_data(&mut d);
    let header = format!("X-Long: {}\r\n", "v".repeat(991));
    assert_eq!(
        d.client_sends(&format!("Subject: t\r\n{header}")),
        ["S> Subject: t", "CLOSE client", "CLOSE server"],
        "what came before the long line is relayed first"
    );
    let mut d = Drive::new("asa-esmtp");
    into_relayed_data(&mut d);
    let body_line = format!("{}\r\n", "b".repeat(999));
    assert_eq!(
        d.client_sends(&format!("Subject: t\r\n\r\n{body_line}"))
            .len(),
        1,
        "a body line is not a header line"
    );
}

#[test]
fn the_tagging_shield_tags_the_first_subject_and_appends_its_note_stuffed() {
    let mut d = preset_with("mail-shield-tagging", |c| {
        c.subject_tag = "[ok]".into();
        c.body_footer = "--\n.sig".into();
    });
    into_relayed_data(&mut d);
    assert_eq!(
        d.client_sends("subject: hi\r\nSubject: two\r\n\r\nSubject: body\r\n.\r\n"),
        ["S> subject: [ok] hi | S> Subject: two | S>  | S> Subject: body | S> -- | S> ..sig | S> ."]
    );
}

#[test]
fn the_footer_goes_into_a_held_message_too() {
    let mut d = preset_with("mail-shield-early-ack", |c| {
        c.body_footer = "scanned".into();
    });
    d.envelope();
    d.client_sends("DATA\r\n");
    assert_eq!(
        d.client_sends("hi\r\n.\r\n"),
        ["C< 250 Message accepted for delivery"]
    );
    let out: Vec<String> = d.run_until(secs(5)).into_iter().map(|(_, e)| e).collect();
    assert_eq!(out, ["S> DATA"], "after the 2 s scan");
    assert_eq!(d.server_sends("354 go\r\n"), ["S> hi | S> scanned | S> ."]);
}

#[test]
fn a_bdat_chunk_passes_the_tagging_shield_untouched() {
    let mut d = preset_with("mail-shield-tagging", |c| {
        c.subject_tag = "[ok]".into();
    });
    d.envelope();
    assert_eq!(
        d.client_sends("BDAT 13 LAST\r\nSubject: hi\r\n"),
        ["S> BDAT 13 LAST | S> Subject: hi"]
    );
}

#[test]
fn clamsmtp_adds_its_header_where_the_header_ends_and_only_there() {
    let mut d = preset_with("mail-shield-tagging", |c| {
        c.subject_tag = String::new();
        c.body_footer = String::new();
        c.added_header = "X-Virus-Scanned: ClamAV using ClamSMTP".into();
    });
    into_relayed_data(&mut d);
    assert_eq!(
        d.client_sends("From: a\r\nSubject: hi\r\n\r\nbody\r\n\r\nmore\r\n.\r\n"),
        ["S> From: a | S> Subject: hi | S> X-Virus-Scanned: ClamAV using ClamSMTP | S>  | S> body | S>  | S> more | S> ."],
        "once, before the empty line that ends the header"
    );
    let mut d = preset_with("mail-shield-tagging", |c| {
        c.subject_tag = String::new();
        c.body_footer = String::new();
        c.added_header = "X-Scanned: yes".into();
    });
    into_relayed_data(&mut d);
    assert_eq!(
        d.client_sends("no header at all\r\n.\r\n"),
        ["S> no header at all | S> ."],
        "no empty line, no header added"
    );
}
