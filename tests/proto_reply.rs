//! Table and property tests for `proto::reply`: `ReplyParser` (single and multi-line replies,
//! malformed lines and resynchronisation, any chunking), enhanced codes, and the wire form.

use proptest::prelude::*;
use smtpsim::proto::reply::{EnhancedCode, Reply, ReplyError, ReplyParser};

/// Chunk sizes every table input is also fed in (`usize::MAX`: all at once).
const CHUNKINGS: [usize; 4] = [usize::MAX, 1, 3, 17];

type Outcome = Result<Reply, ReplyError>;

/// Feeds `input` in `chunk`-byte pieces and collects every outcome.
fn parse_chunked(input: &[u8], chunk: usize) -> Vec<Outcome> {
    let mut parser = ReplyParser::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.clamp(1, input.len().max(1))) {
        parser.push(piece);
        while let Some(outcome) = parser.next_reply() {
            out.push(outcome);
        }
    }
    out
}

fn reply(code: u16, lines: &[&str]) -> Outcome {
    Ok(Reply {
        code,
        lines: lines.iter().map(|l| l.to_string()).collect(),
    })
}

fn check_table(cases: &[(&str, &[u8], Vec<Outcome>)]) {
    for (name, input, expected) in cases {
        for chunk in CHUNKINGS {
            assert_eq!(
                &parse_chunked(input, chunk),
                expected,
                "case {name:?}, chunk size {chunk}"
            );
        }
    }
}

#[test]
fn well_formed_replies() {
    check_table(&[
        (
            "single line",
            b"250 2.0.0 Ok\r\n",
            vec![reply(250, &["2.0.0 Ok"])],
        ),
        (
            "banner",
            b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n",
            vec![reply(220, &["mail.example.org ESMTP Postfix (Debian/GNU)"])],
        ),
        ("bare code", b"250\r\n", vec![reply(250, &[""])]),
        ("code and space", b"354 \r\n", vec![reply(354, &[""])]),
        (
            "bare LF",
            b"221 2.0.0 Bye\n",
            vec![reply(221, &["2.0.0 Bye"])],
        ),
        (
            "EHLO list",
            b"250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n",
            vec![reply(
                250,
                &[
                    "mail.example.org",
                    "PIPELINING",
                    "SIZE 10240000",
                    "CHUNKING",
                ],
            )],
        ),
        (
            "empty continuation",
            b"250-\r\n250 last\r\n",
            vec![reply(250, &["", "last"])],
        ),
        (
            "bare code ends multi-line",
            b"250-first\r\n250\r\n",
            vec![reply(250, &["first", ""])],
        ),
        (
            "pipelined replies",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
            vec![
                reply(250, &["2.1.0 Ok"]),
                reply(250, &["2.1.5 Ok"]),
                reply(354, &["End data with <CR><LF>.<CR><LF>"]),
            ],
        ),
        (
            "text keeps spacing",
            b"500  x  \r\n",
            vec![reply(500, &[" x  "])],
        ),
        ("partial reply waits", b"250-first\r\n250 la", vec![]),
        (
            "codes 2xx..5xx",
            b"200 a\r\n399 b\r\n421 c\r\n599 d\r\n",
            vec![
                reply(200, &["a"]),
                reply(399, &["b"]),
                reply(421, &["c"]),
                reply(599, &["d"]),
            ],
        ),
    ]);
}

#[test]
fn malformed_lines_and_resync() {
    let bad_code = |l: &str| Err(ReplyError::BadCode(l.to_string()));
    let bad_sep = |l: &str| Err(ReplyError::BadSeparator(l.to_string()));
    check_table(&[
        (
            "letters",
            b"hello\r\n250 ok\r\n",
            vec![bad_code("hello"), reply(250, &["ok"])],
        ),
        (
            "too short",
            b"25\r\n250 ok\r\n",
            vec![bad_code("25"), reply(250, &["ok"])],
        ),
        (
            "empty line",
            b"\r\n250 ok\r\n",
            vec![bad_code(""), reply(250, &["ok"])],
        ),
        (
            "first digit 1",
            b"150 x\r\n250 ok\r\n",
            vec![bad_code("150 x"), reply(250, &["ok"])],
        ),
        (
            "first digit 6",
            b"600 x\r\n250 ok\r\n",
            vec![bad_code("600 x"), reply(250, &["ok"])],
        ),
        (
            "non-digit",
            b"2x0 x\r\n250 ok\r\n",
            vec![bad_code("2x0 x"), reply(250, &["ok"])],
        ),
        (
            "bad separator",
            b"250_ok\r\n250 ok\r\n",
            vec![bad_sep("250_ok"), reply(250, &["ok"])],
        ),
        (
            "four digits",
            b"2500 ok\r\n221 bye\r\n",
            vec![bad_sep("2500 ok"), reply(221, &["bye"])],
        ),
        (
            "code mismatch",
            b"250-first\r\n251 second\r\n220 ok\r\n",
            vec![
                Err(ReplyError::CodeMismatch {
                    expected: 250,
                    got: 251,
                }),
                reply(220, &["ok"]),
            ],
        ),
        (
            "bad line inside multi-line drops the partial reply",
            b"250-first\r\njunk\r\n250 ok\r\n",
            vec![bad_code("junk"), reply(250, &["ok"])],
        ),
        (
            "bad separator inside multi-line",
            b"250-first\r\n250+x\r\n221 bye\r\n",
            vec![bad_sep("250+x"), reply(221, &["bye"])],
        ),
    ]);
}

#[test]
fn over_long_line_is_one_error_whatever_the_chunking() {
    // Longer than the 8 KiB reply line limit; its tail looks like a reply of its own and
    // must be dropped with the rest of the line, however the bytes arrive.
    let mut input = b"250 ".to_vec();
    input.extend(std::iter::repeat(b'x').take(8192 - 4));
    input.extend_from_slice(b"250 smuggled\r\n221 bye\r\n");
    let expected = vec![Err(ReplyError::TooLong), reply(221, &["bye"])];
    for chunk in [usize::MAX, 1, 3, 17, 8192, 8193, 8200] {
        assert_eq!(parse_chunked(&input, chunk), expected, "chunk size {chunk}");
    }
}

#[test]
fn is_mid_reply() {
    let mut parser = ReplyParser::default();
    assert!(!parser.is_mid_reply());
    parser.push(b"250-a\r\n");
    assert_eq!(parser.next_reply(), None);
    assert!(parser.is_mid_reply(), "inside a multi-line reply");
    parser.push(b"250 b\r\n");
    assert_eq!(parser.next_reply(), Some(reply(250, &["a", "b"])));
    assert!(!parser.is_mid_reply());
    parser.push(b"22");
    assert_eq!(parser.next_reply(), None);
    assert!(parser.is_mid_reply(), "inside a line");

    // Reported as too long at the 8 KiB limit, but the line is not over yet.
    let mut parser = ReplyParser::new();
    parser.push(&[b'x'; 8193]);
    assert_eq!(parser.next_reply(), Some(Err(ReplyError::TooLong)));
    assert!(parser.is_mid_reply(), "inside the over-long line");
    parser.push(b"\r\n");
    assert_eq!(parser.next_reply(), None);
    assert!(!parser.is_mid_reply(), "the over-long line ended");
}

#[test]
fn enhanced_codes() {
    let code = |class, subject, detail| {
        Some(EnhancedCode {
            class,
            subject,
            detail,
        })
    };
    let cases: &[(&str, Option<EnhancedCode>, &str)] = &[
        ("2.0.0 Ok", code(2, 0, 0), "Ok"),
        (
            "5.1.1 <x@example.org>: User unknown",
            code(5, 1, 1),
            "<x@example.org>: User unknown",
        ),
        (
            "4.7.1 <a@b>: Relay access denied",
            code(4, 7, 1),
            "<a@b>: Relay access denied",
        ),
        ("5.5.2", code(5, 5, 2), ""),
        ("2.6.0 <id@host> Queued", code(2, 6, 0), "<id@host> Queued"),
        ("4.123.999 x", code(4, 123, 999), "x"),
        ("mail.example.org", None, "mail.example.org"),
        ("", None, ""),
        ("3.0.0 x", None, "3.0.0 x"),
        ("1.0.0 x", None, "1.0.0 x"),
        ("2.0 x", None, "2.0 x"),
        ("2.0.0.0 x", None, "2.0.0.0 x"),
        ("2.1000.0 x", None, "2.1000.0 x"),
        ("2..0 x", None, "2..0 x"),
        ("2.x.0 x", None, "2.x.0 x"),
        ("2.0.-1 x", None, "2.0.-1 x"),
        ("2.+1.0 x", None, "2.+1.0 x"),
        // RFC 3463: the class is exactly one digit.
        ("+2.0.0 x", None, "+2.0.0 x"),
        ("02.0.0 x", None, "02.0.0 x"),
        (
            "End data with <CR><LF>.<CR><LF>",
            None,
            "End data with <CR><LF>.<CR><LF>",
        ),
    ];
    for (text, expected, plain) in cases {
        let r = Reply::new(250, *text);
        assert_eq!(r.enhanced(), *expected, "enhanced code of {text:?}");
        assert_eq!(r.plain_text(), *plain, "plain text of {text:?}");
        assert_eq!(EnhancedCode::parse_prefix(text).map(|(c, _)| c), *expected);
    }
    assert_eq!(
        EnhancedCode {
            class: 5,
            subject: 7,
            detail: 1
        }
        .to_string(),
        "5.7.1"
    );
    let multi = Reply {
        code: 250,
        lines: vec!["2.0.0 first".into(), "2.0.0 second".into()],
    };
    assert_eq!(multi.plain_text(), "first / second");
    assert_eq!(
        Reply {
            code: 250,
            lines: vec![]
        }
        .enhanced(),
        None
    );
}

#[test]
fn classes() {
    let cases = [
        (250, 2, true, false, false),
        (354, 3, false, false, false),
        (421, 4, false, true, false),
        (550, 5, false, false, true),
    ];
    for (code, class, positive, transient, permanent) in cases {
        let r = Reply::new(code, "x");
        assert_eq!(r.class(), class);
        assert_eq!(r.is_positive(), positive, "{code}");
        assert_eq!(r.is_transient(), transient, "{code}");
        assert_eq!(r.is_permanent(), permanent, "{code}");
    }
}

#[test]
fn wire_form_and_templates() {
    let cases: &[(Reply, &[u8])] = &[
        (Reply::new(250, "2.0.0 Ok"), b"250 2.0.0 Ok\r\n"),
        (Reply::new(354, ""), b"354\r\n"),
        (
            Reply {
                code: 250,
                lines: vec![
                    "mail.example.org".into(),
                    "PIPELINING".into(),
                    "CHUNKING".into(),
                ],
            },
            b"250-mail.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
        ),
        (
            Reply {
                code: 250,
                lines: vec!["".into(), "last".into()],
            },
            b"250-\r\n250 last\r\n",
        ),
        (
            Reply {
                code: 421,
                lines: vec![],
            },
            b"421\r\n",
        ),
    ];
    for (r, wire) in cases {
        assert_eq!(r.to_wire(), wire.to_vec(), "{r:?}");
    }
    let ehlo = Reply {
        code: 250,
        lines: vec!["a".into(), "b".into()],
    };
    assert_eq!(ehlo.wire_lines(), vec!["250-a", "250 b"]);
    assert_eq!(ehlo.to_string(), "250-a / 250 b");

    let templates: &[(&str, Option<Reply>)] = &[
        ("250 2.0.0 Ok", Some(Reply::new(250, "2.0.0 Ok"))),
        ("250", Some(Reply::new(250, ""))),
        (
            "250-first\n250 last",
            Some(Reply {
                code: 250,
                lines: vec!["first".into(), "last".into()],
            }),
        ),
        (
            "250 first\nlast",
            Some(Reply {
                code: 250,
                lines: vec!["first".into(), "last".into()],
            }),
        ),
        (
            "250 first\r\nPIPELINING",
            Some(Reply {
                code: 250,
                lines: vec!["first".into(), "PIPELINING".into()],
            }),
        ),
        ("Ok", None),
        ("", None),
    ];
    for (template, expected) in templates {
        assert_eq!(
            &Reply::from_template(template),
            expected,
            "template {template:?}"
        );
    }
}

fn any_reply() -> impl Strategy<Value = Reply> {
    (
        (2u16..=5),
        0u16..100,
        prop::collection::vec("[ -~]{0,60}", 1..=5),
    )
        .prop_map(|(class, rest, lines)| Reply {
            code: class * 100 + rest,
            lines,
        })
}

proptest! {
    #[test]
    fn to_wire_then_parse_round_trips(replies in prop::collection::vec(any_reply(), 1..4), chunk in 1usize..40) {
        let wire: Vec<u8> = replies.iter().flat_map(Reply::to_wire).collect();
        let parsed = parse_chunked(&wire, chunk);
        let expected: Vec<Outcome> = replies.into_iter().map(Ok).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(
            prop_oneof![3 => Just(b'\r'), 3 => Just(b'\n'), 2 => Just(b'2'), 2 => Just(b'-'), 2 => Just(b' '), 4 => any::<u8>()],
            0..400,
        ),
        chunk in 1usize..40,
    ) {
        let whole = parse_chunked(&input, usize::MAX);
        prop_assert_eq!(parse_chunked(&input, chunk), whole.clone(), "chunking changes nothing");
        for outcome in whole {
            if let Ok(r) = outcome {
                prop_assert!((200..600).contains(&r.code));
                prop_assert!(!r.lines.is_empty());
                let _ = (r.enhanced(), r.plain_text(), r.to_string());
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics_in_enhanced_code(text in "\\PC{0,20}") {
        let _ = EnhancedCode::parse_prefix(&text);
        let _ = Reply::from_template(&text);
    }
}

#[test]
fn a_missing_reply_cannot_come_from_a_server_and_says_why() {
    let missing = Reply::missing("timeout waiting for the rcpt reply");
    assert!(missing.is_missing());
    assert!(!missing.is_positive());
    assert_eq!(
        missing.to_string(),
        "no reply (timeout waiting for the rcpt reply)"
    );
    let mut parser = ReplyParser::new();
    parser.push(b"000 timeout\r\n");
    assert!(
        matches!(parser.next_reply(), Some(Err(_))),
        "code 0 is refused on the wire"
    );
    assert!(!Reply::new(250, "Ok").is_missing());
}
