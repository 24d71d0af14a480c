//! Table and property tests for `proto::data`: dot-stuffing, canonical bodies, and end-of-data
//! detection through a `LineBuffer`, including the SMTP smuggling vectors in both framing modes.

use proptest::prelude::*;
use smtpsim::proto::data::{canonical, stuff, stuffed_lines, DataEvent, DataReceiver, EndOfData};
use smtpsim::proto::line::{Ending, Line, LineBuffer, LineLimits, Overflow};

/// Chunk sizes every table input is also fed in (`usize::MAX`: all at once).
const CHUNKINGS: [usize; 4] = [usize::MAX, 1, 3, 17];

/// Postfix content framing: bare LF ends a line.
const POSTFIX: LineLimits = LineLimits {
    max_len: 2048,
    bare_lf_ends_line: true,
    overflow: Overflow::Split,
};
/// RFC 5321 content framing: only CRLF ends a line.
const STRICT: LineLimits = LineLimits {
    max_len: 2048,
    bare_lf_ends_line: false,
    overflow: Overflow::Split,
};

/// What a receiver made of some input.
#[derive(Debug, PartialEq)]
struct Received {
    /// How the data ended (`None`: it did not).
    end: Option<EndOfData>,
    /// The unstuffed content.
    body: Vec<u8>,
    /// The bytes after the end-of-data line (left for the command parser).
    rest: Vec<u8>,
}

/// Feeds `input` in `chunk`-byte pieces through a `LineBuffer` into a `DataReceiver`; stops at
/// the end of data. Without an end, a partial line at EOF is handed to the receiver too.
fn receive(limits: LineLimits, input: &[u8], chunk: usize) -> Received {
    let mut lines = LineBuffer::new(limits);
    let mut rx = DataReceiver::new(None);
    let mut fed = 0;
    for piece in input.chunks(chunk.clamp(1, input.len().max(1))) {
        lines.push(piece);
        fed += piece.len();
        while let Some(line) = lines.next_line() {
            if let DataEvent::End(end) = rx.handle_line(&line) {
                let mut rest = lines.take_pending();
                rest.extend_from_slice(&input[fed..]);
                return Received {
                    end: Some(end),
                    body: rx.into_body(),
                    rest,
                };
            }
        }
    }
    if let Some(line) = lines.take_partial() {
        assert_eq!(
            rx.handle_line(&line),
            DataEvent::Content,
            "an EOF line never ends the data"
        );
    }
    Received {
        end: None,
        body: rx.into_body(),
        rest: Vec::new(),
    }
}

/// `receive` for every chunking; all must agree. Returns the common result.
fn receive_all_chunkings(limits: LineLimits, input: &[u8]) -> Received {
    let whole = receive(limits, input, usize::MAX);
    for chunk in CHUNKINGS {
        assert_eq!(
            receive(limits, input, chunk),
            whole,
            "input {:?}, chunk size {chunk}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}

fn end(before: Option<Ending>, after: Ending) -> Option<EndOfData> {
    Some(EndOfData { before, after })
}

#[test]
fn stuffed_lines_table() {
    let cases: &[(&[u8], &[&[u8]])] = &[
        (b"", &[]),
        (b"a", &[b"a\r\n"]),
        (b"a\r\nb\r\n", &[b"a\r\n", b"b\r\n"]),
        (b"a\nb", &[b"a\r\n", b"b\r\n"]),
        (b"\n", &[b"\r\n"]),
        (b"\r\n\r\n", &[b"\r\n", b"\r\n"]),
        (b".", &[b"..\r\n"]),
        (b".\r\n", &[b"..\r\n"]),
        (b"..x\n", &[b"...x\r\n"]),
        (b"x.\n.y", &[b"x.\r\n", b"..y\r\n"]),
        (b"\r\n.\r\n", &[b"\r\n", b"..\r\n"]),
        (b"a\rb\r\n", &[b"a\rb\r\n"]),
        (b"a\r", &[b"a\r\r\n"]),
        (b"a\r\r\n", &[b"a\r\r\n"]),
        (b" .x", &[b" .x\r\n"]),
    ];
    for (body, expected) in cases {
        let expected: Vec<Vec<u8>> = expected.iter().map(|l| l.to_vec()).collect();
        assert_eq!(
            stuffed_lines(body),
            expected,
            "body {:?}",
            String::from_utf8_lossy(body)
        );
        let mut wire = expected.concat();
        wire.extend_from_slice(b".\r\n");
        assert_eq!(stuff(body), wire);
    }
}

#[test]
fn canonical_table() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"", b""),
        (b"hello", b"hello\r\n"),
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb", b"a\r\nb\r\n"),
        (b".\n..\n", b".\r\n..\r\n"),
        (b"a\r", b"a\r\r\n"),
        (b"\n\n", b"\r\n\r\n"),
    ];
    for (body, expected) in cases {
        assert_eq!(
            canonical(body),
            expected.to_vec(),
            "body {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn end_of_data_and_unstuffing() {
    use Ending::*;
    let cases: &[(&str, LineLimits, &[u8], Option<EndOfData>, &[u8], &[u8])] = &[
        // (name, framing, input, end, body, rest)
        (
            "dot first",
            STRICT,
            b".\r\nQUIT\r\n",
            end(None, CrLf),
            b"",
            b"QUIT\r\n",
        ),
        (
            "one line",
            STRICT,
            b"hi\r\n.\r\n",
            end(Some(CrLf), CrLf),
            b"hi\r\n",
            b"",
        ),
        (
            "empty lines kept",
            STRICT,
            b"\r\n\r\n.\r\n",
            end(Some(CrLf), CrLf),
            b"\r\n\r\n",
            b"",
        ),
        (
            "double dot",
            STRICT,
            b"..\r\n.\r\n",
            end(Some(CrLf), CrLf),
            b".\r\n",
            b"",
        ),
        (
            "triple dot",
            STRICT,
            b"...\r\n.\r\n",
            end(Some(CrLf), CrLf),
            b"..\r\n",
            b"",
        ),
        (
            "dot then text",
            STRICT,
            b"..x\r\n.x\r\n.\r\n",
            end(Some(CrLf), CrLf),
            b".x\r\nx\r\n",
            b"",
        ),
        (
            "dot inside",
            STRICT,
            b"a.b\r\nx.\r\n.\r\n",
            end(Some(CrLf), CrLf),
            b"a.b\r\nx.\r\n",
            b"",
        ),
        (
            "dot space",
            STRICT,
            b". \r\n.\r\n",
            end(Some(CrLf), CrLf),
            b" \r\n",
            b"",
        ),
        (
            "pipelined after",
            POSTFIX,
            b"x\r\n.\r\nMAIL FROM:<a@b>\r\n",
            end(Some(CrLf), CrLf),
            b"x\r\n",
            b"MAIL FROM:<a@b>\r\n",
        ),
        ("no end", STRICT, b"x\r\n.", None, b"x\r\n", b""),
        ("dot at EOF", STRICT, b"x\r\n.\r", None, b"x\r\n\r", b""),
    ];
    for (name, limits, input, expected_end, body, rest) in cases {
        let got = receive_all_chunkings(*limits, input);
        assert_eq!(got.end, *expected_end, "{name}: end");
        assert_eq!(got.body, body.to_vec(), "{name}: body");
        assert_eq!(got.rest, rest.to_vec(), "{name}: rest");
    }
}

/// `hello` + vector + `SMUGGLED\r\n.\r\n`: where does the data end, and what is the body?
#[test]
fn smuggling_vectors() {
    use Ending::*;
    struct Case {
        vector: &'static [u8],
        /// With bare LF ending lines (Postfix 3.7 default).
        postfix: (Option<EndOfData>, &'static [u8]),
        /// Strict: only CRLF.CRLF ends.
        strict: (Option<EndOfData>, &'static [u8]),
    }
    let std_end = end(Some(CrLf), CrLf);
    let cases = [
        Case {
            vector: b"\r\n.\r\n",
            postfix: (std_end, b"hello\r\n"),
            strict: (std_end, b"hello\r\n"),
        },
        Case {
            vector: b"\n.\r\n",
            postfix: (end(Some(Lf), CrLf), b"hello\r\n"),
            strict: (std_end, b"hello\n.\r\nSMUGGLED\r\n"),
        },
        Case {
            vector: b"\r\n.\n",
            postfix: (end(Some(CrLf), Lf), b"hello\r\n"),
            // ".\nSMUGGLED" is one line starting with a dot: the dot is unstuffed.
            strict: (std_end, b"hello\r\n\nSMUGGLED\r\n"),
        },
        Case {
            vector: b"\n.\n",
            postfix: (end(Some(Lf), Lf), b"hello\r\n"),
            strict: (std_end, b"hello\n.\nSMUGGLED\r\n"),
        },
        Case {
            vector: b"\r.\r\n",
            postfix: (std_end, b"hello\r.\r\nSMUGGLED\r\n"),
            strict: (std_end, b"hello\r.\r\nSMUGGLED\r\n"),
        },
        Case {
            vector: b"\r\n.\r",
            postfix: (std_end, b"hello\r\n\rSMUGGLED\r\n"),
            strict: (std_end, b"hello\r\n\rSMUGGLED\r\n"),
        },
    ];
    for case in cases {
        let mut input = b"hello".to_vec();
        input.extend_from_slice(case.vector);
        input.extend_from_slice(b"SMUGGLED\r\n.\r\n");
        for (limits, (expected_end, expected_body), mode) in [
            (POSTFIX, case.postfix, "postfix"),
            (STRICT, case.strict, "strict"),
        ] {
            let vector = String::from_utf8_lossy(case.vector);
            let got = receive_all_chunkings(limits, &input);
            assert_eq!(got.end, expected_end, "{vector:?} {mode}: end");
            assert_eq!(got.body, expected_body.to_vec(), "{vector:?} {mode}: body");
            let ended_early = got.body == b"hello\r\n";
            let expected_rest: &[u8] = if ended_early {
                b"SMUGGLED\r\n.\r\n"
            } else {
                b""
            };
            assert_eq!(got.rest, expected_rest.to_vec(), "{vector:?} {mode}: rest");
            // Only the bare-LF vectors accepted in Postfix mode end the data non-standardly.
            let bare_lf_end = mode == "postfix" && ended_early && case.vector != b"\r\n.\r\n";
            assert_eq!(
                got.end.unwrap().is_nonstandard(),
                bare_lf_end,
                "{vector:?} {mode}: is_nonstandard"
            );
        }
    }
}

#[test]
fn is_nonstandard() {
    use Ending::*;
    let cases = [
        (None, CrLf, false),
        (Some(CrLf), CrLf, false),
        (None, Lf, true),
        (Some(Lf), CrLf, true),
        (Some(CrLf), Lf, true),
        (Some(Lf), Lf, true),
    ];
    for (before, after, nonstandard) in cases {
        assert_eq!(
            EndOfData { before, after }.is_nonstandard(),
            nonstandard,
            "{before:?} . {after:?}"
        );
    }
}

#[test]
fn a_dot_after_a_cut_piece_is_not_an_end() {
    use Ending::*;
    let split4 = LineLimits {
        max_len: 4,
        bare_lf_ends_line: false,
        overflow: Overflow::Split,
    };
    let split1 = LineLimits {
        max_len: 1,
        ..split4
    };
    let cases: &[(&str, LineLimits, &[u8], &[u8])] = &[
        // (name, framing, input, body)
        (
            "dot continues a long line",
            split4,
            b"abcd.\r\n.\r\n",
            b"abcd.\r\n",
        ),
        (
            "dots after a cut are content",
            split4,
            b"abcd..\r\n.\r\n",
            b"abcd..\r\n",
        ),
        (
            "cut dot at line start is unstuffed once",
            split1,
            b"..\r\n.\r\n",
            b".\r\n",
        ),
        ("many pieces", split1, b"....\r\n.\r\n", b"...\r\n"),
    ];
    for (name, limits, input, body) in cases {
        let got = receive_all_chunkings(*limits, input);
        assert_eq!(got.end, end(Some(CrLf), CrLf), "{name}: end");
        assert_eq!(got.body, body.to_vec(), "{name}: body");
    }

    // Directly: the line after a Cut piece is not at a line start.
    let mut rx = DataReceiver::new(None);
    assert_eq!(
        rx.handle_line(&Line {
            bytes: b"abcd".to_vec(),
            ending: Cut
        }),
        DataEvent::Content
    );
    assert_eq!(
        rx.handle_line(&Line {
            bytes: b".".to_vec(),
            ending: CrLf
        }),
        DataEvent::Content
    );
    assert_eq!(
        rx.handle_line(&Line {
            bytes: b".".to_vec(),
            ending: Lf
        }),
        DataEvent::End(EndOfData {
            before: Some(CrLf),
            after: Lf
        })
    );
    assert_eq!(rx.body(), b"abcd.\r\n");
}

#[test]
fn size_and_keep_limit() {
    let mut rx = DataReceiver::new(Some(5));
    for l in [&b"hello world"[..], b".x", b"\xff"] {
        assert_eq!(
            rx.handle_line(&Line {
                bytes: l.to_vec(),
                ending: Ending::CrLf
            }),
            DataEvent::Content
        );
    }
    assert_eq!(
        rx.size(),
        13 + 3 + 3,
        "unstuffed bytes plus CRLFs, dropped ones included"
    );
    assert!(rx.overflowed());
    assert_eq!(rx.into_body(), b"hello");

    let mut rx = DataReceiver::new(Some(7));
    rx.handle_line(&Line {
        bytes: b"hello".to_vec(),
        ending: Ending::Lf,
    });
    assert_eq!(rx.size(), 7, "a bare LF line end is stored as CRLF");
    assert!(!rx.overflowed(), "exactly at the limit");
    assert_eq!(rx.body(), b"hello\r\n");

    let mut rx = DataReceiver::default();
    rx.handle_line(&Line {
        bytes: b"tail".to_vec(),
        ending: Ending::Eof,
    });
    assert_eq!(
        (rx.size(), rx.body()),
        (4, &b"tail"[..]),
        "an EOF line adds no line end"
    );
}

/// Bodies rich in CR, LF and dots.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![3 => Just(b'\r'), 3 => Just(b'\n'), 3 => Just(b'.'), 3 => Just(b'a'), 2 => any::<u8>()],
        0..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn stuffed_body_ends_exactly_at_the_final_dot(
        body in body_bytes(),
        max_len in 1usize..40,
        bare_lf in any::<bool>(),
        chunk in 1usize..40,
    ) {
        let limits = LineLimits { max_len, bare_lf_ends_line: bare_lf, overflow: Overflow::Split };
        let mut wire = stuff(&body);
        wire.extend_from_slice(b"QUIT\r\n");
        let got = receive(limits, &wire, chunk);
        let end = got.end.expect("the final dot ends the data");
        prop_assert!(!end.is_nonstandard(), "stuff() only writes CRLF.CRLF: {:?}", end);
        prop_assert_eq!(end.before.is_none(), body.is_empty());
        prop_assert_eq!(got.rest, b"QUIT\r\n".to_vec(), "ended exactly at the final dot");
        prop_assert_eq!(got.body, canonical(&body));
    }

    #[test]
    fn arbitrary_input_never_panics(
        input in body_bytes(),
        max_len in 1usize..40,
        bare_lf in any::<bool>(),
        chunk in 1usize..40,
    ) {
        let limits = LineLimits { max_len, bare_lf_ends_line: bare_lf, overflow: Overflow::Split };
        let got = receive(limits, &input, chunk);
        prop_assert_eq!(&got, &receive(limits, &input, usize::MAX), "chunking changes nothing");
        if let Some(end) = got.end {
            if !bare_lf {
                prop_assert!(!matches!(end.after, Ending::Lf) && !matches!(end.before, Some(Ending::Lf)));
            }
        }
    }
}
