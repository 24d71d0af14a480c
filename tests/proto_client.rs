//! The client sessions without IO: `ClientSession` (the built-in profiles) and `ScriptSession`
//! (a recorded client replayed), fed replies and time, their writes and outcomes asserted.

#[path = "support/virtual_clock.rs"]
mod virtual_clock;

use smtpsim::profile::ClientConfig;
use smtpsim::proto::client::{
    ClientEvent, ClientProtocol, ClientSession, Message, Outcome, Stage, Status, TlsPolicy,
};
use smtpsim::proto::script::{script_messages, ScriptSession, ScriptStep};
use std::sync::Arc;
use std::time::Duration;

const BANNER: &str = "220 mail.example.org ESMTP Postfix\r\n";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn message() -> Message {
    Message {
        id: 0,
        from: "alice@example.org".into(),
        to: vec!["bob@example.org".into()],
        body: b"Subject: t\r\n\r\n.hidden dot\r\nbye\r\n".to_vec(),
        at: Duration::ZERO,
    }
}

fn preset(name: &str) -> Arc<ClientConfig> {
    Arc::new(ClientConfig::preset(name).unwrap())
}

/// One event as text: each written line as `> line` (one string per write), outcomes as
/// `OUTCOME status stage [gap]`, `CLOSE`; notes left out.
fn render(event: ClientEvent) -> Option<String> {
    match event {
        ClientEvent::Send(bytes) => Some(
            String::from_utf8_lossy(&bytes)
                .split_inclusive("\r\n")
                .map(|l| format!("> {}", l.trim_end_matches("\r\n")))
                .collect::<Vec<_>>()
                .join(" | "),
        ),
        ClientEvent::Outcome(o) => Some(outcome(&o)),
        ClientEvent::Note(_) => None,
        ClientEvent::Close => Some("CLOSE".into()),
        ClientEvent::StartTls => Some("STARTTLS handshake".into()),
    }
}

fn outcome(o: &Outcome) -> String {
    let status = match o.status {
        Status::Accepted => "accepted",
        Status::Rejected => "rejected",
        Status::Deferred => "deferred",
        Status::NotAttempted => "not-attempted",
    };
    let gap = if o.in_sync_gap { " gap" } else { "" };
    format!("OUTCOME {status} {}{gap}", o.stage.name())
}

/// A session on a virtual clock.
struct Drive<C: ClientProtocol> {
    session: C,
    now: Duration,
}

impl<C: ClientProtocol + virtual_clock::Timed<Event = ClientEvent>> Drive<C> {
    /// Takes every event due, advancing the clock to timers up to `until`.
    fn settle_until(&mut self, until: Duration) -> Vec<(Duration, String)> {
        virtual_clock::settle_until(&mut self.session, &mut self.now, until, |_, e| render(e))
    }

    fn settle(&mut self) -> Vec<String> {
        let now = self.now;
        self.settle_until(now).into_iter().map(|(_, e)| e).collect()
    }

    /// The server's bytes now, in chunks of `chunk` bytes; what the client does about them.
    fn reply_in_chunks(&mut self, text: &str, chunk: usize) -> Vec<String> {
        for piece in text.as_bytes().chunks(chunk) {
            self.session.handle_input(self.now, piece);
        }
        self.settle()
    }

    fn reply(&mut self, text: &str) -> Vec<String> {
        self.reply_in_chunks(text, usize::MAX)
    }
}

fn client(profile: &str) -> Drive<ClientSession> {
    Drive {
        session: ClientSession::new(preset(profile), vec![message()], Duration::ZERO),
        now: Duration::ZERO,
    }
}

/// (reply from the server, what the client writes or decides next)
type Exchange<'a> = (&'a str, &'a [&'a str]);

fn converse<C: ClientProtocol + virtual_clock::Timed<Event = ClientEvent>>(
    drive: &mut Drive<C>,
    exchanges: &[Exchange<'_>],
    chunk: usize,
) {
    for (reply, expected) in exchanges {
        assert_eq!(
            drive.reply_in_chunks(reply, chunk),
            *expected,
            "after {reply:?} in {chunk}-byte chunks"
        );
    }
}

const LOCKSTEP_SESSION: &[Exchange<'static>] = &[
    (BANNER, &["> HELO ws1.example.org"]),
    (
        "250 mail.example.org\r\n",
        &["> MAIL FROM:<alice@example.org>"],
    ),
    ("250 2.1.0 Ok\r\n", &["> RCPT TO:<bob@example.org>"]),
    ("250 2.1.5 Ok\r\n", &["> DATA"]),
    (
        "354 End data with <CR><LF>.<CR><LF>\r\n",
        &["> Subject: t | >  | > ..hidden dot | > bye | > ."],
    ),
    (
        "250 2.0.0 Ok: queued as ABC\r\n",
        &["OUTCOME accepted end-of-data", "> QUIT"],
    ),
    ("221 2.0.0 Bye\r\n", &["CLOSE"]),
];

#[test]
fn a_lock_step_client_sends_one_message_whatever_the_reply_chunks() {
    for chunk in [1, 3, 17, usize::MAX] {
        let mut c = client("nullmailer");
        assert!(c.settle().is_empty(), "nothing before the banner");
        converse(&mut c, LOCKSTEP_SESSION, chunk);
    }
}

#[test]
fn the_reply_at_each_stage_decides_the_outcome() {
    // (replies before the deciding one, the deciding reply, the outcome)
    let happy = [
        BANNER,
        "250 mail.example.org\r\n",
        "250 2.1.0 Ok\r\n",
        "250 2.1.5 Ok\r\n",
        "354 go ahead\r\n",
    ];
    let cases: &[(usize, &str, &str)] = &[
        (0, "421 4.3.2 try later\r\n", "OUTCOME deferred greeting"),
        (1, "501 Syntax: HELO hostname\r\n", "OUTCOME rejected helo"),
        (2, "451 4.3.0 try later\r\n", "OUTCOME deferred mail"),
        (2, "553 5.7.1 sender refused\r\n", "OUTCOME rejected mail"),
        (3, "550 5.1.1 unknown user\r\n", "OUTCOME rejected rcpt"),
        (3, "450 4.2.0 mailbox busy\r\n", "OUTCOME deferred rcpt"),
        (
            4,
            "554 5.5.1 no valid recipients\r\n",
            "OUTCOME rejected data",
        ),
        (
            5,
            "452 4.3.1 Insufficient system storage\r\n",
            "OUTCOME deferred end-of-data",
        ),
        (
            5,
            "554 5.7.1 content refused\r\n",
            "OUTCOME rejected end-of-data",
        ),
    ];
    for (before, reply, expected) in cases {
        let mut c = client("nullmailer");
        for r in &happy[..*before] {
            c.reply(r);
        }
        let out = c.reply(reply);
        assert!(
            out.iter().any(|e| e == expected),
            "{reply:?} after {before} replies: {out:?}"
        );
    }
}

#[test]
fn no_reply_after_the_dot_is_a_deferral_in_the_rfc1047_gap() {
    let mut c = client("nullmailer");
    for r in &LOCKSTEP_SESSION[..5] {
        c.reply(r.0);
    }
    let timeout = preset("nullmailer").timeout_data_done.0;
    assert_eq!(
        c.session.poll_timeout(),
        Some(timeout),
        "RFC 5321: 10 minutes"
    );
    let out = c.settle_until(secs(3600));
    assert_eq!(out[0].0, timeout);
    assert_eq!(out[0].1, "OUTCOME deferred end-of-data gap");
    assert_eq!(out.last().unwrap().1, "CLOSE");
}

#[test]
fn a_pipelining_client_groups_mail_rcpt_and_data_when_offered() {
    let mut c = client("pipelining");
    assert_eq!(c.reply(BANNER), ["> EHLO ws1.example.org"]);
    assert_eq!(
        c.reply("250-mail.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
        ["> MAIL FROM:<alice@example.org> | > RCPT TO:<bob@example.org> | > DATA"]
    );
    // Without PIPELINING, one command per reply.
    let mut c = client("pipelining");
    c.reply(BANNER);
    assert_eq!(
        c.reply("250 mail.example.org\r\n"),
        ["> MAIL FROM:<alice@example.org>"]
    );
}

#[test]
fn ehlo_refused_falls_back_to_helo_only_when_the_profile_does() {
    let mut c = client("pipelining");
    c.reply(BANNER);
    assert_eq!(
        c.reply("500 5.5.1 Command unrecognized\r\n"),
        ["> HELO ws1.example.org"]
    );
    let mut mine = ClientConfig::preset("pipelining").unwrap();
    mine.fall_back_to_helo = false;
    let mut c = Drive {
        session: ClientSession::new(Arc::new(mine), vec![message()], Duration::ZERO),
        now: Duration::ZERO,
    };
    c.reply(BANNER);
    let out = c.reply("500 5.5.1 Command unrecognized\r\n");
    assert!(
        out.contains(&"OUTCOME rejected helo".to_string()),
        "{out:?}"
    );
}

#[test]
fn the_typist_waits_before_every_line() {
    let mut c = client("telnet");
    c.session.handle_input(c.now, BANNER.as_bytes());
    let out = c.settle_until(secs(10));
    assert_eq!(out, vec![(secs(3), "> HELO ws1.example.org".to_string())]);
    c.now = secs(4);
    c.session.handle_input(c.now, b"250 mail.example.org\r\n");
    let out = c.settle_until(secs(10));
    assert_eq!(
        out,
        vec![(secs(7), "> MAIL FROM:<alice@example.org>".to_string())]
    );
}

#[test]
fn a_lost_connection_defers_what_was_not_decided() {
    let mut c = client("nullmailer");
    c.reply(BANNER);
    c.reply("250 mail.example.org\r\n");
    c.session.handle_eof(c.now, "reset");
    let out = c.settle();
    assert_eq!(out, ["OUTCOME deferred mail", "CLOSE"]);
}

/// Postfix's EHLO reply as the postfix server profile writes it.
const EHLO_REPLY: &str = "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n\
                          250-DSN\r\n250 CHUNKING\r\n";

#[test]
fn ssmtp_writes_the_content_a_line_at_a_time_then_the_dot_alone_a_second_later() {
    let mut c = client("ssmtp");
    for r in &LOCKSTEP_SESSION[..4] {
        c.reply(r.0);
    }
    let content = c.reply("354 End data with <CR><LF>.<CR><LF>\r\n");
    assert_eq!(content, ["> Subject: t", "> ", "> ..hidden dot", "> bye"]);
    assert_eq!(c.settle_until(secs(2)), [(secs(1), "> .".to_string())]);
}

#[test]
fn ssmtp_and_msmtp_leave_without_rset_or_quit_after_a_refusal() {
    for profile in ["ssmtp", "msmtp"] {
        let mut c = client(profile);
        c.reply(BANNER);
        let after_helo = c.reply(EHLO_REPLY);
        assert!(
            after_helo[0].starts_with("> MAIL"),
            "{profile}: {after_helo:?}"
        );
        // msmtp reads the replies its pipelined RCPT and DATA are owed before it leaves.
        let out = match profile {
            "msmtp" => c.reply(
                "553 5.7.1 sender refused\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n",
            ),
            _ => c.reply("553 5.7.1 sender refused\r\n"),
        };
        let rest: Vec<String> = c.settle_until(secs(10)).into_iter().map(|e| e.1).collect();
        let all = [out, rest].concat();
        assert!(
            all.contains(&"OUTCOME rejected mail".to_string()),
            "{profile}: {all:?}"
        );
        assert!(
            all.iter()
                .all(|e| !e.contains("QUIT") && !e.contains("RSET")),
            "{profile}: {all:?}"
        );
        assert_eq!(
            all.last().map(String::as_str),
            Some("CLOSE"),
            "{profile}: {all:?}"
        );
    }
}

#[test]
fn msmtp_pipelines_the_envelope_as_separate_writes() {
    let mut c = client("msmtp");
    assert_eq!(c.reply(BANNER), ["> EHLO ws1.example.org"]);
    assert_eq!(
        c.reply(EHLO_REPLY),
        [
            "> MAIL FROM:<alice@example.org>",
            "> RCPT TO:<bob@example.org>",
            "> DATA"
        ]
    );
}

#[test]
fn smtplib_writes_lower_case_verbs_and_size() {
    let mut c = client("smtplib");
    assert_eq!(c.reply(BANNER), ["> ehlo ws1.example.org"]);
    let mail = c.reply(EHLO_REPLY);
    assert_eq!(mail.len(), 1, "lock-step: {mail:?}");
    assert!(
        mail[0].starts_with("> mail FROM:<alice@example.org> size="),
        "{mail:?}"
    );
    assert_eq!(c.reply("250 2.1.0 Ok\r\n"), ["> rcpt TO:<bob@example.org>"]);
}

#[test]
fn postfix_pipelines_size_orcpt_and_quit_after_the_dot_and_leaves_a_failure_with_rset_quit() {
    let mut c = client("postfix-queue");
    assert_eq!(c.reply(BANNER), ["> EHLO ws1.example.org"]);
    let group = c.reply(EHLO_REPLY);
    assert_eq!(group.len(), 1, "one write: {group:?}");
    assert!(group[0].contains("SIZE="), "{group:?}");
    assert!(
        group[0].contains("ORCPT=rfc822;bob@example.org | > DATA"),
        "{group:?}"
    );
    let out = c.reply("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n");
    assert_eq!(
        out,
        ["> Subject: t | >  | > ..hidden dot | > bye | > . | > QUIT"]
    );

    let mut c = client("postfix-queue");
    c.reply(BANNER);
    c.reply(EHLO_REPLY);
    let out = c.reply("451 4.3.0 try later\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n");
    assert_eq!(out, ["OUTCOME deferred mail", "> RSET | > QUIT"]);
}

#[test]
fn postfix_without_pipelining_waits_for_rset_before_quit_and_only_quits_after_a_refused_dot() {
    let plain_ehlo = "250-mail.example.org\r\n250 8BITMIME\r\n";
    let mut c = client("postfix-queue");
    c.reply(BANNER);
    c.reply(plain_ehlo);
    c.reply("250 2.1.0 Ok\r\n");
    c.reply("250 2.1.5 Ok\r\n");
    assert_eq!(
        c.reply("550 5.5.1 no\r\n"),
        ["OUTCOME rejected data", "> RSET"]
    );
    assert_eq!(c.reply("250 2.0.0 Ok\r\n"), ["> QUIT"]);

    let mut c = client("postfix-queue");
    c.reply(BANNER);
    c.reply(plain_ehlo);
    c.reply("250 2.1.0 Ok\r\n");
    c.reply("250 2.1.5 Ok\r\n");
    c.reply("354 go ahead\r\n");
    let out = c.reply("554 5.7.1 Please try again later\r\n");
    assert_eq!(out, ["OUTCOME rejected end-of-data", "> QUIT"]);
}

#[test]
fn smtplib_closes_without_a_word_when_the_greeting_is_refused() {
    let mut c = client("smtplib");
    let out = c.reply("450 4.3.2 Please try again later\r\n");
    assert_eq!(out, ["OUTCOME deferred greeting", "CLOSE"]);
}

#[test]
fn postfix_defers_a_5xx_greeting_where_other_clients_bounce_it() {
    let banner = "554 5.3.2 mail.example.org not accepting mail\r\n";
    let mut c = client("postfix-queue");
    assert_eq!(c.reply(banner), ["OUTCOME deferred greeting", "> QUIT"]);
    let mut c = client("nullmailer");
    assert_eq!(c.reply(banner), ["OUTCOME rejected greeting", "> QUIT"]);
}

#[test]
fn postfix_msmtp_and_smtplib_fall_back_to_helo_after_a_4xx_to_ehlo() {
    for profile in ["postfix-queue", "msmtp", "smtplib"] {
        let mut c = client(profile);
        c.reply(BANNER);
        let out = c.reply("451 4.3.0 try again\r\n");
        assert!(
            out.iter()
                .any(|e| e.eq_ignore_ascii_case("> HELO ws1.example.org")),
            "{profile}: {out:?}"
        );
    }
}

fn step(after_replies: u32, delay_ms: u64, bytes: &str) -> ScriptStep {
    ScriptStep {
        after_replies,
        delay: Duration::from_millis(delay_ms),
        bytes: bytes.as_bytes().to_vec(),
    }
}

/// A recording: EHLO, then MAIL/RCPT/DATA pipelined, the content, QUIT.
fn recording() -> Vec<ScriptStep> {
    vec![
        step(1, 5, "EHLO relay.example.net\r\n"),
        step(
            2,
            2,
            "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<eve@example.org>\r\nDATA\r\n",
        ),
        step(6, 1, "Subject: s\n\n..dotted\n.\n"),
        step(7, 3, "QUIT\r\n"),
    ]
}

#[test]
fn a_script_knows_its_messages_as_a_server_would_read_them() {
    let messages = script_messages(&recording());
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].from, "alice@example.org");
    assert_eq!(messages[0].to, ["bob@example.org", "eve@example.org"]);
    assert_eq!(
        messages[0].body, b"Subject: s\r\n\r\n.dotted\r\n",
        "bare LF ends a line, the dot is unstuffed"
    );
}

#[test]
fn a_script_replays_each_write_after_its_reply_and_pause() {
    let mut s = Drive {
        session: ScriptSession::new(recording(), Duration::ZERO),
        now: Duration::ZERO,
    };
    assert!(s.settle().is_empty(), "the first step waits for the banner");
    s.session.handle_input(s.now, BANNER.as_bytes());
    let out = s.settle_until(secs(1));
    assert_eq!(
        out,
        vec![(
            Duration::from_millis(5),
            "> EHLO relay.example.net".to_string()
        )]
    );
    let at = |s: &mut Drive<ScriptSession>, ms: u64, reply: &str| {
        s.now = Duration::from_millis(ms);
        s.session.handle_input(s.now, reply.as_bytes());
        s.settle_until(secs(1))
    };
    let ms = Duration::from_millis;
    assert_eq!(
        at(&mut s, 10, "250 mail.example.org\r\n"),
        [(
            ms(12),
            "> MAIL FROM:<alice@example.org> | > RCPT TO:<bob@example.org> | > RCPT TO:<eve@example.org> | > DATA"
                .to_string()
        )],
        "2 ms after the EHLO reply, as recorded"
    );
    assert!(at(&mut s, 20, "250 2.1.0 Ok\r\n").is_empty());
    assert!(at(&mut s, 21, "250 2.1.5 Ok\r\n").is_empty());
    assert!(at(&mut s, 22, "550 5.1.1 <eve@example.org>: unknown\r\n").is_empty());
    assert_eq!(
        at(&mut s, 23, "354 go ahead\r\n"),
        [(ms(24), "> Subject: s\n\n..dotted\n.\n".to_string())],
        "written as recorded, bare LFs and stuffing included"
    );
    let out: Vec<String> = at(&mut s, 30, "250 2.0.0 Ok: queued as X\r\n")
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(out, ["OUTCOME accepted end-of-data", "> QUIT"]);
    let decided = s.session.poll_timeout();
    assert!(decided.is_some(), "lingers, then hangs up");
}

#[test]
fn a_script_whose_server_goes_silent_hangs_up_and_says_why() {
    let mut s = Drive {
        session: ScriptSession::new(recording(), Duration::ZERO),
        now: Duration::ZERO,
    };
    s.session.handle_input(s.now, BANNER.as_bytes());
    let out = s.settle_until(secs(3600));
    let texts: Vec<&str> = out.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(
        texts,
        [
            "> EHLO relay.example.net",
            "OUTCOME not-attempted mail",
            "CLOSE"
        ]
    );
    // It waited the silence limit (300 s) for the EHLO reply.
    assert_eq!(out[1].0, Duration::from_millis(5) + secs(300));
    assert_eq!(Stage::Mail.name(), "mail");
}

// STARTTLS policies (Postfix's smtp_tls_security_level; smtp_proto.c's outcomes).

const EHLO_TLS: &str = "250-mail.example.org\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
const EHLO_PLAIN: &str = "250-mail.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n";

fn with_tls(profile: &str, policy: TlsPolicy) -> Drive<ClientSession> {
    let mut cfg = (*preset(profile)).clone();
    cfg.tls = policy;
    Drive {
        session: ClientSession::new(Arc::new(cfg), vec![message()], Duration::ZERO),
        now: Duration::ZERO,
    }
}

#[test]
fn opportunistic_tls_starts_tls_when_offered_and_says_ehlo_again() {
    for chunk in [1, 3, 17, usize::MAX] {
        let mut d = with_tls("pipelining", TlsPolicy::May);
        converse(
            &mut d,
            &[
                (BANNER, &["> EHLO ws1.example.org"]),
                (EHLO_TLS, &["> STARTTLS"]),
                ("220 2.0.0 Ready to start TLS\r\n", &["STARTTLS handshake"]),
            ],
            chunk,
        );
        d.session.handle_tls(d.now, Ok(()));
        assert_eq!(d.settle(), ["> EHLO ws1.example.org"]);
        // Inside TLS the offer is not taken again; the transaction follows.
        assert_eq!(
            d.reply(EHLO_TLS),
            ["> MAIL FROM:<alice@example.org> | > RCPT TO:<bob@example.org> | > DATA"]
        );
    }
}

#[test]
fn opportunistic_tls_goes_on_in_plaintext_when_refused_and_retries_plain_after_a_failed_handshake()
{
    let mut d = with_tls("pipelining", TlsPolicy::May);
    converse(
        &mut d,
        &[
            (BANNER, &["> EHLO ws1.example.org"]),
            (EHLO_TLS, &["> STARTTLS"]),
            (
                "454 4.7.0 TLS not available due to local problem\r\n",
                &["> MAIL FROM:<alice@example.org> | > RCPT TO:<bob@example.org> | > DATA"],
            ),
        ],
        usize::MAX,
    );
    let mut d = with_tls("pipelining", TlsPolicy::May);
    d.reply(BANNER);
    d.reply(EHLO_TLS);
    d.reply("220 2.0.0 Ready to start TLS\r\n");
    d.session.handle_tls(d.now, Err("bad certificate".into()));
    assert_eq!(d.settle(), ["OUTCOME not-attempted starttls", "CLOSE"]);
}

#[test]
fn required_tls_defers_when_tls_is_missing_refused_or_fails() {
    let mut d = with_tls("pipelining", TlsPolicy::Encrypt);
    d.reply(BANNER);
    assert_eq!(d.reply(EHLO_PLAIN), ["OUTCOME deferred starttls", "> QUIT"]);

    let mut d = with_tls("pipelining", TlsPolicy::Verify);
    d.reply(BANNER);
    d.reply(EHLO_TLS);
    assert_eq!(
        d.reply("454 4.7.0 TLS not available due to local problem\r\n"),
        ["OUTCOME deferred starttls", "> QUIT"]
    );

    let mut d = with_tls("pipelining", TlsPolicy::Encrypt);
    d.reply(BANNER);
    d.reply(EHLO_TLS);
    d.reply("220 2.0.0 Ready to start TLS\r\n");
    d.session.handle_tls(d.now, Err("handshake failure".into()));
    assert_eq!(d.settle(), ["OUTCOME deferred starttls", "CLOSE"]);
}

const EHLO_CHUNKING: &str =
    "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n";
/// `message()`'s content as BDAT sends it: canonical line ends, no dot-stuffing (32 bytes).
const CONTENT: &str = "> Subject: t | >  | > .hidden dot | > bye";

/// The exchange client in lock step with 10-byte chunks, MAIL and RCPT accepted: the first
/// chunk is on its way.
fn lock_step_past_the_envelope() -> Drive<ClientSession> {
    let mut c = exchange(10, false, vec![message()]);
    for r in [
        BANNER,
        EHLO_CHUNKING,
        "250 2.1.0 Ok\r\n",
        "250 2.1.5 Ok\r\n",
    ] {
        c.reply(r);
    }
    c
}

fn exchange(chunk_size: u64, pipelining: bool, messages: Vec<Message>) -> Drive<ClientSession> {
    let mut cfg = ClientConfig::preset("exchange").unwrap();
    cfg.chunk_size = chunk_size;
    cfg.pipelining = pipelining;
    Drive {
        session: ClientSession::new(Arc::new(cfg), messages, Duration::ZERO),
        now: Duration::ZERO,
    }
}

#[test]
fn exchange_sends_the_message_as_one_pipelined_bdat_last_whatever_the_reply_chunks() {
    for chunk in [1, 3, 17, usize::MAX] {
        let mut c = client("exchange");
        converse(
            &mut c,
            &[
                (BANNER, &["> EHLO mail1.fabrikam.com"]),
                (
                    EHLO_CHUNKING,
                    &[&format!("> MAIL FROM:<alice@example.org> | > RCPT TO:<bob@example.org> | > BDAT 32 LAST | {CONTENT}")],
                ),
                ("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n", &[]),
                (
                    "250 2.0.0 Ok: 32 bytes queued as ABC\r\n",
                    &["OUTCOME accepted bdat-last"],
                ),
            ],
            chunk,
        );
        // The connection is kept for the next message for its idle limit, then QUIT.
        let out = c.settle_until(secs(10));
        assert_eq!(out, [(secs(2), "> QUIT".to_string())]);
    }
}

#[test]
fn without_pipelining_each_chunk_waits_for_the_reply_to_the_one_before() {
    for chunk in [1, 3, 17, usize::MAX] {
        let mut c = exchange(10, false, vec![message()]);
        converse(
            &mut c,
            &[
                (BANNER, &["> EHLO mail1.fabrikam.com"]),
                (EHLO_CHUNKING, &["> MAIL FROM:<alice@example.org>"]),
                ("250 2.1.0 Ok\r\n", &["> RCPT TO:<bob@example.org>"]),
                // 10 bytes each, cut anywhere (here inside line ends), the last 2.
                ("250 2.1.5 Ok\r\n", &["> BDAT 10 | > Subject: t"]),
                (
                    "250 2.0.0 Ok: 10 bytes\r\n",
                    &["> BDAT 10 | >  | >  | > .hidde"],
                ),
                (
                    "250 2.0.0 Ok: 10 bytes\r\n",
                    &["> BDAT 10 | > n dot | > bye"],
                ),
                ("250 2.0.0 Ok: 10 bytes\r\n", &["> BDAT 2 LAST | > "]),
                (
                    "250 2.0.0 Ok: 32 bytes queued as ABC\r\n",
                    &["OUTCOME accepted bdat-last"],
                ),
            ],
            chunk,
        );
    }
}

#[test]
fn without_chunking_offered_the_message_goes_with_data_and_dot_stuffing() {
    let mut c = client("exchange");
    c.reply(BANNER);
    assert_eq!(
        c.reply("250-mail.example.org\r\n250 PIPELINING\r\n"),
        ["> MAIL FROM:<alice@example.org> | > RCPT TO:<bob@example.org> | > DATA"]
    );
    c.reply("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
    assert_eq!(
        c.reply("354 go ahead\r\n"),
        ["> Subject: t | >  | > ..hidden dot | > bye | > ."]
    );
}

#[test]
fn each_chunk_reply_decides_as_the_replies_to_data_do() {
    // Lock-step chunks of 10 bytes: the first chunk's reply, or the last's.
    let cases: &[(usize, &str, &str)] = &[
        (
            0,
            "452 4.3.1 Insufficient system storage\r\n",
            "OUTCOME deferred bdat",
        ),
        (
            0,
            "552 5.3.4 Chunk exceeds message size limit\r\n",
            "OUTCOME rejected bdat",
        ),
        (
            3,
            "451 4.3.0 Error: queue file write error\r\n",
            "OUTCOME deferred bdat-last",
        ),
        (
            3,
            "554 5.7.1 content refused\r\n",
            "OUTCOME rejected bdat-last",
        ),
    ];
    for (oks, reply, expected) in cases {
        let mut c = lock_step_past_the_envelope();
        for _ in 0..*oks {
            c.reply("250 2.0.0 Ok: 10 bytes\r\n");
        }
        let out = c.reply(reply);
        assert_eq!(
            out.first().map(String::as_str),
            Some(*expected),
            "{reply:?}: {out:?}"
        );
        assert!(
            !out.iter().any(|e| e.starts_with("> BDAT")),
            "no chunk after a refused one: {out:?}"
        );
    }
}

#[test]
fn a_connection_lost_mid_message_is_in_the_rfc1047_gap_only_once_the_last_chunk_went() {
    let mut c = lock_step_past_the_envelope();
    c.session.handle_eof(c.now, "reset");
    assert_eq!(
        c.settle(),
        ["OUTCOME deferred bdat", "CLOSE"],
        "the first chunk"
    );
    let mut c = lock_step_past_the_envelope();
    for _ in 0..3 {
        c.reply("250 2.0.0 Ok: 10 bytes\r\n");
    }
    c.session.handle_eof(c.now, "reset");
    assert_eq!(
        c.settle(),
        ["OUTCOME deferred bdat-last gap", "CLOSE"],
        "BDAT 2 LAST sent: the server may have queued it"
    );
    // Pipelined, the last chunk leaves with the envelope: no reply at all is the gap.
    let mut c = client("exchange");
    c.reply(BANNER);
    c.reply(EHLO_CHUNKING);
    let timeout = preset("exchange").timeout_mail.0;
    let out = c.settle_until(secs(3600));
    assert_eq!(
        out[..2],
        [
            (timeout, "> QUIT".to_string()),
            (timeout, "OUTCOME deferred bdat-last gap".to_string())
        ],
        "no reply even to MAIL; Exchange says QUIT after a timeout"
    );
}

#[test]
fn pipelined_chunks_behind_refused_recipients_are_refused_for_them() {
    let mut c = client("exchange");
    c.reply(BANNER);
    c.reply(EHLO_CHUNKING);
    assert!(c.reply("250 2.1.0 Ok\r\n").is_empty());
    assert!(
        c.reply("550 5.1.1 <bob@example.org>: Recipient address rejected\r\n")
            .is_empty(),
        "the chunk's reply is still owed"
    );
    let out = c.reply("554 5.5.1 Error: no valid recipients\r\n");
    assert_eq!(out, ["OUTCOME rejected rcpt"]);
}

#[test]
fn after_a_refused_pipelined_mail_every_owed_reply_is_let_pass_before_the_next_message() {
    let second = Message {
        id: 1,
        to: vec!["carol@example.org".into()],
        ..message()
    };
    let mut c = exchange(0, true, vec![message(), second]);
    c.reply(BANNER);
    c.reply(EHLO_CHUNKING);
    assert_eq!(
        c.reply("451 4.3.0 try later\r\n"),
        ["OUTCOME deferred mail"]
    );
    assert!(c.reply("503 5.5.1 Error: need MAIL command\r\n").is_empty());
    assert_eq!(
        c.reply("503 5.5.1 Error: need RCPT command\r\n"),
        ["> RSET"],
        "the BDAT's reply was the last owed"
    );
    assert_eq!(
        c.reply("250 2.0.0 Ok\r\n"),
        ["> MAIL FROM:<alice@example.org> | > RCPT TO:<carol@example.org> | > BDAT 32 LAST | > Subject: t | >  | > .hidden dot | > bye"]
    );
    let out = c.reply("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 32 bytes queued as B\r\n");
    assert_eq!(out, ["OUTCOME accepted bdat-last"]);
}

#[test]
fn a_pipelining_client_lets_the_replies_to_a_refused_mail_pass_too() {
    // The same for DATA: the replies to RCPT and DATA are not taken for the next commands'.
    let second = Message { id: 1, ..message() };
    let mut c = Drive {
        session: ClientSession::new(
            preset("postfix-cached"),
            vec![message(), second],
            Duration::ZERO,
        ),
        now: Duration::ZERO,
    };
    c.reply(BANNER);
    c.reply("250-mail.example.org\r\n250 PIPELINING\r\n");
    assert_eq!(
        c.reply("451 4.3.0 try later\r\n"),
        ["OUTCOME deferred mail"]
    );
    assert!(c.reply("503 5.5.1 Error: need MAIL command\r\n").is_empty());
    assert_eq!(
        c.reply("503 5.5.1 Error: need RCPT command\r\n"),
        ["> RSET"]
    );
    assert_eq!(
        c.reply("250 2.0.0 Ok\r\n"),
        ["> RSET"],
        "the probe before the next MAIL"
    );
    assert_eq!(
        c.reply("250 2.0.0 Ok\r\n"),
        ["> MAIL FROM:<alice@example.org> | > RCPT TO:<bob@example.org> | > DATA"]
    );
}

fn two_recipients(profile: &str) -> Drive<ClientSession> {
    let mut message = message();
    message.to.push("carol@example.org".into());
    Drive {
        session: ClientSession::new(preset(profile), vec![message], Duration::ZERO),
        now: Duration::ZERO,
    }
}

#[test]
fn swaks_reads_a_timeout_as_a_refusal_and_the_late_reply_as_the_next_commands() {
    // EHLO unanswered for 30 s: HELO goes out, and the late EHLO reply is taken for HELO's.
    let mut c = client("swaks");
    assert_eq!(c.reply(BANNER), ["> EHLO ws1.example.org"]);
    let out: Vec<String> = c.settle_until(secs(31)).into_iter().map(|e| e.1).collect();
    assert_eq!(out, ["> HELO ws1.example.org"]);
    assert_eq!(
        c.reply(EHLO_REPLY),
        ["> MAIL FROM:<alice@example.org>"],
        "the EHLO reply answers HELO"
    );
    // From here every reply answers the command after its own: DATA gets RCPT's 250, which
    // is not a 354, and swaks gives up with QUIT; nothing is accepted.
    assert_eq!(
        c.reply("250 mail.example.org\r\n"),
        ["> RCPT TO:<bob@example.org>"]
    );
    assert_eq!(c.reply("250 2.1.0 Ok\r\n"), ["> DATA"]);
    assert_eq!(
        c.reply("250 2.1.5 Ok\r\n"),
        ["OUTCOME rejected data", "> QUIT"]
    );
    assert_eq!(
        c.reply("354 End data with <CR><LF>.<CR><LF>\r\n"),
        ["CLOSE"]
    );

    // A RCPT unanswered: the next recipient goes out at once, as after a refusal.
    let mut c = two_recipients("swaks");
    c.reply(BANNER);
    c.reply(EHLO_REPLY);
    assert_eq!(c.reply("250 2.1.0 Ok\r\n"), ["> RCPT TO:<bob@example.org>"]);
    let out: Vec<String> = c.settle_until(secs(31)).into_iter().map(|e| e.1).collect();
    assert_eq!(out, ["> RCPT TO:<carol@example.org>"]);
    assert_eq!(
        c.reply("250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"),
        ["> DATA", "OUTCOME rejected data", "> QUIT"]
    );

    // The reply to '.' is never taken as a refusal: the message is in RFC 1047's gap.
    let mut c = client("swaks");
    for reply in [BANNER, EHLO_REPLY, "250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n"] {
        c.reply(reply);
    }
    c.reply("354 go ahead\r\n");
    let out: Vec<String> = c.settle_until(secs(100)).into_iter().map(|e| e.1).collect();
    assert_eq!(out, ["> QUIT", "OUTCOME deferred end-of-data gap", "CLOSE"]);
}

#[test]
fn clients_that_fall_back_to_helo_after_a_refusal_give_up_on_a_timeout() {
    // (msmtp and smtplib have no timeout by default.)
    for profile in ["postfix-queue", "postfix-cached"] {
        let mut c = client(profile);
        assert_eq!(c.reply(BANNER), ["> EHLO ws1.example.org"], "{profile}");
        let out: Vec<String> = c
            .settle_until(secs(3600))
            .into_iter()
            .map(|e| e.1)
            .collect();
        assert!(
            out.iter().all(|e| !e.contains("HELO")),
            "{profile}: no fallback after a timeout: {out:?}"
        );
        assert_eq!(
            out.last().map(String::as_str),
            Some("CLOSE"),
            "{profile}: {out:?}"
        );
    }
}
