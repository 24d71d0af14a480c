//! `InterceptorSession` without IO: both sides fed by hand, on a virtual clock; each preset's
//! signature behaviour asserted on the writes it makes toward the client and the server.

mod interceptor_drive;

use interceptor_drive::*;
use smtpsim::profile::InterceptorConfig;
use smtpsim::proto::interceptor::InterceptorEvent;

#[test]
fn passthrough_relays_everything_unchanged() {
    let mut d = Drive::new("passthrough");
    assert_eq!(
        d.server_sends(BANNER),
        ["C< 220 mail.example.org ESMTP Postfix (Debian/GNU)"]
    );
    d.envelope();
    assert_eq!(d.client_sends("DATA\r\n"), ["S> DATA"]);
    assert_eq!(d.server_sends("354 go ahead\r\n"), ["C< 354 go ahead"]);
    assert_eq!(d.client_sends("hi\r\n.\r\n"), ["S> hi | S> ."]);
    assert_eq!(
        d.server_sends("250 2.0.0 Ok: queued as X\r\n"),
        ["C< 250 2.0.0 Ok: queued as X"]
    );
}

#[test]
fn symantec_telnet_answers_data_itself_keeps_the_server_busy_and_acks_the_dot() {
    let mut d = Drive::new("symantec-telnet");
    d.envelope();
    assert_eq!(
        d.client_sends("DATA\r\n"),
        ["C< 354 Please start mail input."],
        "its own 354; nothing upstream"
    );
    // A typist: a line every few seconds; NOOPs go upstream every 10 s meanwhile.
    d.session.handle_client_input(secs(3), b"Subject: hi\r\n");
    let out = d.run_until(secs(25));
    assert_eq!(
        out,
        [
            (secs(10), "S> NOOP".to_string()),
            (secs(20), "S> NOOP".to_string())
        ]
    );
    d.now = secs(21);
    assert!(
        d.server_sends("250 2.0.0 Ok\r\n").is_empty(),
        "NOOP replies swallowed"
    );
    assert_eq!(
        d.client_sends(".\r\n"),
        ["C< 250 Message accepted for delivery"],
        "its own 250 at '.', before the server has anything"
    );
    d.server_sends("250 2.0.0 Ok\r\n");
    // The message goes upstream only after the client's QUIT.
    let out = d.client_sends("QUIT\r\n");
    assert_eq!(out, ["S> DATA"], "{out:?}");
    assert_eq!(
        d.server_sends("354 End data with <CR><LF>.<CR><LF>\r\n"),
        ["S> Subject: hi | S> ."]
    );
    let out = d.server_sends("250 2.0.0 Ok: queued as Q\r\n");
    assert!(
        !out.iter().any(|e| e.contains("queued as Q")),
        "the server's verdict is swallowed: {out:?}"
    );
}

#[test]
fn symantec_rset_resets_twice_scans_then_replays_the_envelope() {
    let mut d = Drive::new("symantec-rset");
    d.envelope();
    assert_eq!(
        d.client_sends("DATA\r\n"),
        ["C< 354 Please start mail input."]
    );
    assert_eq!(
        d.client_sends("Subject: hi\r\n\r\nbody\r\n.\r\n"),
        ["S> RSET"],
        "at '.', RSET where the Postfix log expected DATA"
    );
    d.now = ms(5);
    assert!(d.server_sends("250 2.0.0 Ok\r\n").is_empty());
    let out = d.run_until(secs(5));
    assert_eq!(
        out,
        [(ms(1005), "S> RSET".to_string())],
        "a second RSET 1 s later"
    );
    d.now = ms(1010);
    assert!(d.server_sends("250 2.0.0 Ok\r\n").is_empty());
    let out = d.run_until(secs(60));
    assert_eq!(
        out,
        [(ms(11010), "S> MAIL FROM:<alice@example.org>".to_string())],
        "ten seconds of scanning, then the envelope again"
    );
    d.now = ms(11020);
    assert_eq!(
        d.server_sends("250 2.1.0 Ok\r\n"),
        ["S> RCPT TO:<bob@example.org>"]
    );
    assert_eq!(d.server_sends("250 2.1.5 Ok\r\n"), ["S> DATA"]);
    assert_eq!(
        d.server_sends("354 End data with <CR><LF>.<CR><LF>\r\n"),
        ["S> Subject: hi | S>  | S> body | S> ."]
    );
    assert_eq!(
        d.server_sends("250 2.0.0 Ok: queued as Q\r\n"),
        ["C< 250 2.0.0 Ok: queued as Q"],
        "the server's verdict reaches the client"
    );
}

#[test]
fn pix_masks_the_banner_turns_ehlo_into_noop_and_refuses_it() {
    let mut d = Drive::new("pix-mailguard");
    assert_eq!(
        d.server_sends(BANNER),
        ["C< 220 **************** ***** ******* ************"]
    );
    assert_eq!(
        d.client_sends("EHLO exchange.example.net\r\n"),
        ["S> NOOP"],
        "not an RFC 821 command: NOOP upstream"
    );
    assert_eq!(
        d.server_sends("250 2.0.0 Ok\r\n"),
        ["C< 500 5.5.1 Command unrecognized"]
    );
    assert_eq!(
        d.client_sends("HELO exchange.example.net\r\n"),
        ["S> HELO exchange.example.net"]
    );
}

#[test]
fn pix_holds_back_an_end_of_data_split_across_segments() {
    let mut d = Drive::new("pix-mailguard");
    d.envelope();
    d.client_sends("DATA\r\n");
    d.server_sends("354 End data with <CR><LF>.<CR><LF>\r\n");
    assert_eq!(d.client_sends("see you monday\r\n"), ["S> see you monday"]);
    assert!(
        d.client_sends(".\r\n").is_empty(),
        "CRLF at the end of one segment, '.' in the next: held back"
    );
    assert_eq!(
        d.client_sends("QUIT\r\n"),
        ["S> . | S> QUIT"],
        "the client's next segment carries it on"
    );
    // In one segment, the terminator passes at once.
    let mut d = Drive::new("pix-mailguard");
    d.envelope();
    d.client_sends("DATA\r\n");
    d.server_sends("354 End data with <CR><LF>.<CR><LF>\r\n");
    assert_eq!(
        d.client_sends("see you monday\r\n.\r\n"),
        ["S> see you monday | S> ."]
    );
}

#[test]
fn a_client_split_into_any_chunks_is_relayed_the_same() {
    for chunk in [1, 3, 17] {
        let mut d = Drive::new("passthrough");
        d.server_sends(BANNER);
        let mut relayed = Vec::new();
        for piece in b"HELO ws1.example.org\r\nMAIL FROM:<a@b.c>\r\n".chunks(chunk) {
            d.session.handle_client_input(d.now, piece);
            relayed.extend(d.settle());
        }
        let joined = relayed.join(" | ");
        assert_eq!(
            joined, "S> HELO ws1.example.org | S> MAIL FROM:<a@b.c>",
            "{chunk}-byte chunks"
        );
    }
}

// STARTTLS through the interceptor: relayed (then blind), refused, intercepted.

const EHLO_TLS: &str = "250-mail.example.org\r\n250-STARTTLS\r\n250 8BITMIME\r\n";

fn after_ehlo(preset: &str) -> Drive {
    let mut d = Drive::new(preset);
    d.server_sends(BANNER);
    d.client_sends("EHLO ws1\r\n");
    d.server_sends(EHLO_TLS);
    d
}

#[test]
fn relayed_starttls_turns_the_connection_into_a_blind_byte_relay() {
    let mut d = after_ehlo("passthrough");
    assert_eq!(d.client_sends("STARTTLS\r\n"), ["S> STARTTLS"]);
    assert_eq!(
        d.server_sends("220 2.0.0 Ready to start TLS\r\n"),
        ["C< 220 2.0.0 Ready to start TLS", "BLIND"]
    );
    // Records, not lines: relayed as they come, whatever they contain.
    assert_eq!(
        d.client_sends("\u{16}\u{3}\u{1}DATA\r\n"),
        ["S> \u{16}\u{3}\u{1}DATA"]
    );
    assert_eq!(
        d.server_sends("\u{17}\u{3}\u{3}x"),
        ["C< \u{17}\u{3}\u{3}x"]
    );
}

#[test]
fn an_injecting_middlebox_appends_plaintext_commands_to_starttls() {
    let mut cfg = InterceptorConfig::preset("passthrough").unwrap();
    cfg.inject_after_starttls = vec!["RSET".into()];
    let mut d = Drive::with(cfg);
    d.server_sends(BANNER);
    assert_eq!(d.client_sends("STARTTLS\r\n"), ["S> STARTTLS | S> RSET"]);
}

#[test]
fn av_tls_refuse_answers_starttls_itself() {
    let mut d = after_ehlo("av-tls-refuse");
    assert_eq!(
        d.client_sends("STARTTLS\r\n"),
        ["C< 454 4.7.0 TLS not available due to local problem"]
    );
}

#[test]
fn av_tls_inspect_starts_tls_upstream_first_then_with_the_client() {
    let mut d = after_ehlo("av-tls-inspect");
    assert_eq!(d.client_sends("STARTTLS\r\n"), ["S> STARTTLS"]);
    assert_eq!(
        d.server_sends("220 2.0.0 Ready to start TLS\r\n"),
        ["TLS server"]
    );
    d.session.handle_server_tls(d.now, Ok(()));
    assert_eq!(
        d.settle(),
        ["C< 220 2.0.0 Ready to start TLS", "TLS client"]
    );
    d.session.handle_client_tls(d.now, Ok(()));
    // Inside both sessions the interceptor reads commands again.
    assert_eq!(d.client_sends("EHLO ws1\r\n"), ["S> EHLO ws1"]);
}

/// Raw bytes written toward the server while `input` arrives from the client in pieces of
/// `piece` bytes, and what went toward the client meanwhile.
fn relay_raw(d: &mut Drive, input: &[u8], piece: usize) -> (Vec<u8>, Vec<String>) {
    let (mut upstream, mut to_client) = (Vec::new(), Vec::new());
    for part in input.chunks(piece) {
        d.session.handle_client_input(d.now, part);
        while let Some(event) = d.session.poll_event(d.now) {
            match event {
                InterceptorEvent::ToServer(bytes) => upstream.extend(bytes),
                other => to_client.extend(render(other)),
            }
        }
    }
    (upstream, to_client)
}

/// A BDAT chunk whose bytes look like commands (and like an end of data).
const CHUNKED: &[u8] = b"BDAT 24\r\nDATA\r\nQUIT\r\n.\r\nRSET\r\nx\r\nBDAT 7 LAST\r\nthe end";

#[test]
fn bdat_chunks_are_data_not_commands_however_the_client_splits_them() {
    for piece in [1, 3, 17, usize::MAX] {
        let mut d = Drive::new("passthrough");
        d.envelope();
        let (upstream, to_client) = relay_raw(&mut d, CHUNKED, piece);
        assert_eq!(
            String::from_utf8_lossy(&upstream),
            String::from_utf8_lossy(CHUNKED),
            "relayed byte for byte ({piece}-byte pieces)"
        );
        assert!(to_client.is_empty(), "{to_client:?}");
        assert_eq!(
            d.server_sends("250 2.0.0 Ok: 24 bytes\r\n250 2.0.0 Ok: 31 bytes queued as Q\r\n"),
            ["C< 250 2.0.0 Ok: 24 bytes | C< 250 2.0.0 Ok: 31 bytes queued as Q"],
            "one reply per BDAT, none for the chunk's lines"
        );
        assert_eq!(d.client_sends("QUIT\r\n"), ["S> QUIT"], "commands again");
    }
}

#[test]
fn the_scanning_proxies_and_the_asa_take_chunking_out_of_the_ehlo_reply() {
    let ehlo = "250-mail.example.org\r\n250-PIPELINING\r\n250-STARTTLS\r\n250-8BITMIME\r\n250 CHUNKING\r\n";
    for (preset, left) in [
        ("symantec-rset", "STARTTLS | C< 250 8BITMIME"),
        ("symantec-telnet", "STARTTLS | C< 250 8BITMIME"),
        ("asa-esmtp", "8BITMIME"),
    ] {
        let mut d = Drive::new(preset);
        d.server_sends(BANNER);
        d.client_sends("EHLO exchange.example.net\r\n");
        let out = d.server_sends(ehlo).join(" | ");
        assert_eq!(
            out,
            format!("C< 250-mail.example.org | C< 250-PIPELINING | C< 250-{left}")
                .replace("250-8BITMIME", "250 8BITMIME"),
            "{preset}"
        );
    }
    let mut d = Drive::new("passthrough");
    d.server_sends(BANNER);
    d.client_sends("EHLO exchange.example.net\r\n");
    assert!(d
        .server_sends(ehlo)
        .join(" | ")
        .ends_with("C< 250 CHUNKING"));
}

#[test]
fn a_bdat_sent_to_a_scanning_proxy_anyway_passes_unscanned() {
    let mut d = Drive::new("symantec-rset");
    d.envelope();
    let (upstream, to_client) = relay_raw(&mut d, CHUNKED, 5);
    assert_eq!(upstream, CHUNKED, "nothing held, nothing answered locally");
    assert!(to_client.is_empty(), "{to_client:?}");
    assert_eq!(
        d.server_sends("250 2.0.0 Ok: 24 bytes\r\n250 2.0.0 Ok: 31 bytes queued as Q\r\n")
            .len(),
        1
    );
}

#[test]
fn pix_turns_bdat_into_noop_and_drops_its_chunk() {
    let mut d = Drive::new("pix-mailguard");
    d.envelope();
    let (upstream, _) = relay_raw(&mut d, b"BDAT 12 LAST\r\nDATA\r\nQUIT\r\nNOOP\r\n", 3);
    assert_eq!(
        String::from_utf8_lossy(&upstream),
        "NOOP\r\nNOOP\r\n",
        "BDAT as NOOP, its chunk gone, the NOOP after it relayed"
    );
    assert_eq!(
        d.server_sends("250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"),
        ["C< 500 5.5.1 Command unrecognized | C< 250 2.0.0 Ok"]
    );
}

#[test]
fn a_chunk_sent_while_a_held_message_is_released_waits_behind_its_command() {
    // symantec-telnet acks '.' itself and releases the message at the client's next
    // command: here the next message's MAIL, RCPT and BDAT, pipelined.
    let mut d = Drive::new("symantec-telnet");
    d.envelope();
    d.client_sends("DATA\r\n");
    assert_eq!(
        d.client_sends("one\r\n.\r\n"),
        ["C< 250 Message accepted for delivery"]
    );
    let next: &[u8] = b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nBDAT 12 LAST\r\nRSET\r\nDATA\r\n";
    let (before, after) = next.split_at(next.len() - 9);
    let (upstream, _) = relay_raw(&mut d, before, 7);
    assert_eq!(
        String::from_utf8_lossy(&upstream),
        "DATA\r\n",
        "the next command starts the release; it and what follows wait"
    );
    assert_eq!(d.server_sends("354 go ahead\r\n"), ["S> one | S> ."]);
    let (upstream, _) = relay_raw(&mut d, &after[..5], 7);
    assert!(upstream.is_empty(), "still releasing");
    assert_eq!(
        d.server_sends("250 2.0.0 Ok: queued as Q\r\n"),
        ["S> MAIL FROM:<alice@example.org> | S> RCPT TO:<bob@example.org> | S> BDAT 12 LAST | S> RSET | S> DA"],
        "in order, the chunk's first bytes behind its command"
    );
    let (upstream, _) = relay_raw(&mut d, &after[5..], 7);
    assert_eq!(
        String::from_utf8_lossy(&upstream),
        "TA\r\n",
        "the rest of the chunk, relayed as data"
    );
}

#[test]
fn its_own_354_to_a_pipelined_data_waits_for_the_replies_owed_before_it() {
    let mut d = Drive::new("symantec-rset");
    d.server_sends(BANNER);
    d.client_sends("EHLO mail1.fabrikam.com\r\n");
    d.server_sends("250-mail.example.org\r\n250 PIPELINING\r\n");
    assert_eq!(
        d.client_sends("MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"),
        ["S> MAIL FROM:<alice@example.org> | S> RCPT TO:<bob@example.org>"],
        "nothing for the client yet"
    );
    assert!(d.server_sends("250 2.1.0 Ok\r\n").len() == 1);
    assert_eq!(
        d.server_sends("250 2.1.5 Ok\r\n"),
        ["C< 250 2.1.5 Ok | C< 354 Please start mail input."],
        "RFC 2920: replies in the order of the commands"
    );
}

/// The commands of a pipelining client, one write.
const PIPELINED: &str = "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n";

#[test]
fn spampd_relays_a_pipelined_envelope_one_command_at_a_time() {
    let mut d = Drive::new("spampd");
    assert_eq!(
        d.server_sends(BANNER),
        ["C< 220 mail.example.org ESMTP Postfix (Debian/GNU)"]
    );
    assert_eq!(d.client_sends("EHLO ws1\r\n"), ["S> EHLO ws1"]);
    assert_eq!(
        d.server_sends("250-mail.example.org\r\n250 PIPELINING\r\n"),
        ["C< 250-mail.example.org | C< 250 PIPELINING"],
        "the EHLO reply relayed unchanged, PIPELINING kept"
    );
    assert_eq!(
        d.client_sends(PIPELINED),
        ["S> MAIL FROM:<alice@example.org>"],
        "only the first command goes up"
    );
    assert_eq!(
        d.server_sends("250 2.1.0 Ok\r\n"),
        ["C< 250 2.1.0 Ok", "S> RCPT TO:<bob@example.org>"],
        "its reply back, then the next command"
    );
    assert_eq!(
        d.server_sends("250 2.1.5 Ok\r\n"),
        ["C< 250 2.1.5 Ok", "S> DATA"]
    );
    assert_eq!(
        d.server_sends("354 End data with <CR><LF>.<CR><LF>\r\n"),
        ["C< 354 End data with <CR><LF>.<CR><LF>"],
        "DATA relayed, the server's 354 to the client"
    );
    assert!(
        d.client_sends("Subject: hi\r\n\r\nbody\r\n").is_empty(),
        "the content is held"
    );
    let out = d.client_sends(".\r\n");
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with("S> X-Spam-Checker-Version: SpamAssassin 4.0.1"),
        "SpamAssassin's fields at the top: {out:?}"
    );
    assert!(
        out[0].ends_with("S> X-Spam-Status: No, score=4.2 required=5.0 tests=MISSING_DATE,MISSING_HEADERS, | S> \tMISSING_MID autolearn=disabled version=4.0.1 | S> Subject: hi | S>  | S> body | S> ."),
        "then the message and '.', in one write: {out:?}"
    );
    assert!(!out[0].contains("X-Spam-Flag"), "not spam: {out:?}");
    assert_eq!(
        d.server_sends("250 2.0.0 Ok: queued as Q\r\n"),
        ["C< 250 2.0.0 Ok: queued as Q"],
        "the server's verdict reaches the client"
    );
}

#[test]
fn spampd_tags_gtube_spam_and_delivers_it_without_its_trailing_empty_lines() {
    let mut d = Drive::new("spampd");
    d.envelope();
    assert_eq!(d.client_sends("DATA\r\n"), ["S> DATA"]);
    d.server_sends("354 go ahead\r\n");
    let gtube = smtpsim::profile::interceptor::GTUBE;
    let out = d.client_sends(&format!("Subject: hi\r\n\r\n{gtube}\r\n\r\n\r\n.\r\n"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].contains("S> X-Spam-Flag: YES"), "tagged: {out:?}");
    assert!(
        out[0].ends_with(&format!("S> Subject: hi | S>  | S> {gtube} | S> .")),
        "delivered, not refused, the empty lines at its end gone: {out:?}"
    );
    assert_eq!(
        d.server_sends("250 2.0.0 Ok: queued as Q\r\n"),
        ["C< 250 2.0.0 Ok: queued as Q"]
    );
}

#[test]
fn spampd_answers_with_empty_lines_once_the_server_is_gone() {
    let mut d = Drive::new("spampd");
    d.server_sends(BANNER);
    d.client_sends("HELO ws1\r\n");
    d.server_sends("250 mail.example.org\r\n");
    assert_eq!(
        d.client_sends(PIPELINED),
        ["S> MAIL FROM:<alice@example.org>"]
    );
    d.session.handle_server_eof(d.now);
    assert_eq!(
        d.settle(),
        ["C< ", "C< ", "CLOSE client"],
        "an empty line for MAIL's reply, one for RCPT (written to the closed connection), and \
         DATA, the second write there, ends the session"
    );
    assert!(
        d.client_sends("QUIT\r\n").is_empty(),
        "nothing more happens"
    );
}

/// Measured with spampd 2.53 between a client writing its message slowly and serve with a 5 s
/// timeout: the server's 421 and close during the held message reach the client as nothing at
/// all, and its '.' ends both connections (spampd's write of the message fails).
#[test]
fn spampd_reads_nothing_from_the_server_while_it_holds_a_message() {
    let mut d = Drive::new("spampd");
    d.envelope();
    d.client_sends("DATA\r\n");
    d.server_sends("354 go ahead\r\n");
    assert!(d.client_sends("Subject: hi\r\n\r\n").is_empty());
    assert!(
        d.server_sends("421 4.4.2 mail.example.org Error: timeout exceeded\r\n")
            .is_empty(),
        "the server's timeout is not read while the message comes in"
    );
    d.session.handle_server_eof(d.now);
    assert!(d.settle().is_empty(), "the client hears nothing");
    assert!(d.client_sends("line\r\n").is_empty());
    assert_eq!(
        d.client_sends(".\r\n"),
        ["CLOSE client"],
        "no reply to '.': the connection is closed"
    );
}

#[test]
fn spampd_takes_a_reply_the_server_sent_early_as_the_next_commands_answer() {
    let mut d = Drive::new("spampd");
    d.envelope();
    assert!(
        d.server_sends("421 4.4.2 mail.example.org Error: timeout exceeded\r\n")
            .is_empty(),
        "nothing owed: left unread"
    );
    assert_eq!(
        d.client_sends("RSET\r\n"),
        [
            "S> RSET",
            "C< 421 4.4.2 mail.example.org Error: timeout exceeded"
        ],
        "RSET goes up, and the waiting 421 comes back as its reply"
    );
    d.session.handle_server_eof(d.now);
    assert!(d.settle().is_empty());
    assert_eq!(
        d.client_sends("QUIT\r\n"),
        ["C< "],
        "written to the closed connection: an empty line back"
    );
}

/// spampd leaves its data state on a refusal of DATA only when the reply is one line: a
/// multiline refusal is relayed, then the client's QUIT is read as message content.
#[test]
fn spampd_misses_a_multiline_refusal_of_data() {
    let mut d = Drive::new("spampd");
    d.envelope();
    assert_eq!(d.client_sends("DATA\r\n"), ["S> DATA"]);
    assert_eq!(
        d.server_sends("554-5.7.1 Rejected by policy\r\n554 5.7.1 Please try again later\r\n"),
        ["C< 554-5.7.1 Rejected by policy | C< 554 5.7.1 Please try again later"]
    );
    assert!(
        d.client_sends("QUIT\r\n").is_empty(),
        "QUIT held as content"
    );
    d.session.handle_client_eof(d.now);
    assert_eq!(d.settle(), ["CLOSE server"], "no QUIT reaches the server");

    let mut d = Drive::new("spampd");
    d.envelope();
    d.client_sends("DATA\r\n");
    d.server_sends("554 5.7.1 Rejected by policy\r\n");
    assert_eq!(
        d.client_sends("QUIT\r\n"),
        ["S> QUIT"],
        "a one-line refusal ends the data state"
    );
}

/// Measured by hand with spampd 2.53: its SMTP code knows neither STARTTLS nor BDAT.
#[test]
fn spampd_stalls_a_tls_handshake_and_a_bdat_chunk() {
    let mut d = Drive::new("spampd");
    d.server_sends(BANNER);
    d.client_sends("EHLO ws1\r\n");
    d.server_sends("250-mail.example.org\r\n250-STARTTLS\r\n250 CHUNKING\r\n");
    assert_eq!(d.client_sends("STARTTLS\r\n"), ["S> STARTTLS"]);
    assert_eq!(
        d.server_sends("220 2.0.0 Ready to start TLS\r\n"),
        ["C< 220 2.0.0 Ready to start TLS"],
        "relayed as any reply: the connection does not turn into a byte relay"
    );
    assert!(
        d.client_sends("\u{16}\u{3}\u{1}\u{0}\u{a5}\u{1}\u{0}\u{0}\u{a1}\u{3}\u{3}")
            .is_empty(),
        "the ClientHello is read as the start of a command line"
    );

    let mut d = Drive::new("spampd");
    d.envelope();
    assert_eq!(
        d.client_sends("BDAT 5 LAST\r\nhello"),
        ["S> BDAT 5 LAST"],
        "the chunk waits, unread, for BDAT's reply, which the server gives only after the chunk"
    );
}
