//! Table and property tests for `proto::line::LineBuffer`: CRLF framing, bare LF / bare CR,
//! over-long lines (Truncate and Split), EOF, and independence from how input is chunked.

use proptest::prelude::*;
use smtpsim::proto::line::{Ending, Line, LineBuffer, LineLimits, Overflow};

/// Chunk sizes every table input is also fed in (`usize::MAX`: all at once).
const CHUNKINGS: [usize; 4] = [usize::MAX, 1, 3, 17];

fn limits(max_len: usize, bare_lf_ends_line: bool, overflow: Overflow) -> LineLimits {
    LineLimits {
        max_len,
        bare_lf_ends_line,
        overflow,
    }
}

/// Postfix-like command framing: bare LF ends a line, long lines are truncated.
fn lenient_cmd(max_len: usize) -> LineLimits {
    limits(max_len, true, Overflow::Truncate)
}

/// RFC 5321 command framing: only CRLF ends a line, long lines are truncated.
fn strict_cmd(max_len: usize) -> LineLimits {
    limits(max_len, false, Overflow::Truncate)
}

/// Content framing: long lines are split, nothing is lost.
fn split(max_len: usize, bare_lf_ends_line: bool) -> LineLimits {
    limits(max_len, bare_lf_ends_line, Overflow::Split)
}

/// Feeds `input` in `chunk`-byte pieces, draining complete lines after every push, then
/// takes the partial line at EOF. Checks the memory bound after every drain.
fn frame_chunked(limits: LineLimits, input: &[u8], chunk: usize) -> Vec<Line> {
    let mut buf = LineBuffer::new(limits);
    let mut out = Vec::new();
    for piece in input.chunks(chunk.clamp(1, input.len().max(1))) {
        buf.push(piece);
        while let Some(line) = buf.next_line() {
            out.push(line);
        }
        assert!(
            buf.pending().len() <= limits.max_len + 1,
            "pending {} bytes > max_len {} + 1",
            buf.pending().len(),
            limits.max_len
        );
    }
    out.extend(buf.take_partial());
    assert!(buf.pending().is_empty(), "take_partial left bytes behind");
    out
}

fn line(bytes: &[u8], ending: Ending) -> Line {
    Line {
        bytes: bytes.to_vec(),
        ending,
    }
}

/// Runs a table: every case, every chunking, must give exactly the expected lines.
fn check_table(cases: &[(&str, LineLimits, &[u8], &[(&[u8], Ending)])]) {
    for (name, limits, input, expected) in cases {
        let expected: Vec<Line> = expected.iter().map(|(b, e)| line(b, *e)).collect();
        for chunk in CHUNKINGS {
            let got = frame_chunked(*limits, input, chunk);
            assert_eq!(got, expected, "case {name:?}, chunk size {chunk}");
        }
    }
}

#[test]
fn crlf_and_empty_lines() {
    use Ending::*;
    check_table(&[
        ("empty input", lenient_cmd(64), b"", &[]),
        (
            "one line",
            lenient_cmd(64),
            b"HELO client.example\r\n",
            &[(b"HELO client.example", CrLf)],
        ),
        (
            "two lines",
            strict_cmd(64),
            b"NOOP\r\nQUIT\r\n",
            &[(b"NOOP", CrLf), (b"QUIT", CrLf)],
        ),
        ("empty line", strict_cmd(64), b"\r\n", &[(b"", CrLf)]),
        (
            "empty lines",
            strict_cmd(64),
            b"\r\n\r\nx\r\n",
            &[(b"", CrLf), (b"", CrLf), (b"x", CrLf)],
        ),
        (
            "spaces kept",
            strict_cmd(64),
            b"  NOOP  \r\n",
            &[(b"  NOOP  ", CrLf)],
        ),
        (
            "binary kept",
            split(64, false),
            b"\x00\xff\x7f\r\n",
            &[(b"\x00\xff\x7f", CrLf)],
        ),
    ]);
}

#[test]
fn bare_lf() {
    use Ending::*;
    check_table(&[
        (
            "LF ends (lenient)",
            lenient_cmd(64),
            b"NOOP\nQUIT\n",
            &[(b"NOOP", Lf), (b"QUIT", Lf)],
        ),
        (
            "LF is content (strict)",
            strict_cmd(64),
            b"NOOP\nQUIT\r\n",
            &[(b"NOOP\nQUIT", CrLf)],
        ),
        (
            "mixed (lenient)",
            lenient_cmd(64),
            b"a\r\nb\nc\r\n",
            &[(b"a", CrLf), (b"b", Lf), (b"c", CrLf)],
        ),
        (
            "empty LF line (lenient)",
            lenient_cmd(64),
            b"\n\n",
            &[(b"", Lf), (b"", Lf)],
        ),
        (
            "only LFs (strict) stay partial",
            strict_cmd(64),
            b"\n\n",
            &[(b"\n\n", Eof)],
        ),
        (
            "LF then CR (lenient)",
            lenient_cmd(64),
            b"a\n\rb\r\n",
            &[(b"a", Lf), (b"\rb", CrLf)],
        ),
        (
            "LF.CRLF (lenient)",
            split(64, true),
            b"x\n.\r\n",
            &[(b"x", Lf), (b".", CrLf)],
        ),
        (
            "LF.CRLF (strict)",
            split(64, false),
            b"x\n.\r\n",
            &[(b"x\n.", CrLf)],
        ),
    ]);
}

#[test]
fn bare_cr_never_ends_a_line() {
    use Ending::*;
    for bare_lf in [true, false] {
        check_table(&[
            (
                "CR inside",
                limits(64, bare_lf, Overflow::Truncate),
                b"NOOP\rQUIT\r\n",
                &[(b"NOOP\rQUIT", CrLf)],
            ),
            (
                "CR CR LF",
                limits(64, bare_lf, Overflow::Split),
                b"a\r\r\n",
                &[(b"a\r", CrLf)],
            ),
            (
                "CR only",
                limits(64, bare_lf, Overflow::Split),
                b"\r\r\r",
                &[(b"\r\r\r", Eof)],
            ),
            (
                "CR.CRLF",
                limits(64, bare_lf, Overflow::Split),
                b"x\r.\r\n",
                &[(b"x\r.", CrLf)],
            ),
            (
                "trailing CR at EOF",
                limits(64, bare_lf, Overflow::Split),
                b"QUIT\r",
                &[(b"QUIT\r", Eof)],
            ),
        ]);
    }
}

#[test]
fn truncate_overlong_lines() {
    use Ending::*;
    check_table(&[
        (
            "exactly max_len",
            strict_cmd(4),
            b"abcd\r\nok\r\n",
            &[(b"abcd", CrLf), (b"ok", CrLf)],
        ),
        (
            "max_len + 1",
            strict_cmd(4),
            b"abcde\r\nok\r\n",
            &[(b"abcd", Cut), (b"ok", CrLf)],
        ),
        (
            "rest discarded",
            strict_cmd(4),
            b"abcdefghijkl\r\nok\r\n",
            &[(b"abcd", Cut), (b"ok", CrLf)],
        ),
        (
            "two long lines",
            lenient_cmd(4),
            b"abcdefg\nhijklmn\n",
            &[(b"abcd", Cut), (b"hijk", Cut)],
        ),
        (
            "bare LF in rest is content (strict)",
            strict_cmd(4),
            b"abcdef\ngh\r\nok\r\n",
            &[(b"abcd", Cut), (b"ok", CrLf)],
        ),
        (
            "bare LF ends rest (lenient)",
            lenient_cmd(4),
            b"abcdef\ngh\r\n",
            &[(b"abcd", Cut), (b"gh", CrLf)],
        ),
        (
            "CR in rest",
            strict_cmd(4),
            b"abcdef\rgh\r\nok\r\n",
            &[(b"abcd", Cut), (b"ok", CrLf)],
        ),
        (
            "CR at the cut",
            strict_cmd(4),
            b"abcd\r\rok\r\nx\r\n",
            &[(b"abcd", Cut), (b"x", CrLf)],
        ),
        (
            "rest discarded at EOF",
            strict_cmd(4),
            b"abcdefg",
            &[(b"abcd", Cut)],
        ),
        (
            "rest with CR at EOF",
            strict_cmd(4),
            b"abcdefg\r",
            &[(b"abcd", Cut)],
        ),
        (
            "empty line after cut",
            strict_cmd(4),
            b"abcdefg\r\n\r\n",
            &[(b"abcd", Cut), (b"", CrLf)],
        ),
        (
            "partial after cut",
            strict_cmd(4),
            b"abcdefg\r\nQU",
            &[(b"abcd", Cut), (b"QU", Eof)],
        ),
        (
            "max_len 1",
            strict_cmd(1),
            b"ab\r\nc\r\n",
            &[(b"a", Cut), (b"c", CrLf)],
        ),
    ]);
}

#[test]
fn split_overlong_lines() {
    use Ending::*;
    check_table(&[
        (
            "exactly max_len",
            split(4, false),
            b"abcd\r\n",
            &[(b"abcd", CrLf)],
        ),
        (
            "max_len + 1",
            split(4, false),
            b"abcde\r\n",
            &[(b"abcd", Cut), (b"e", CrLf)],
        ),
        (
            "several pieces",
            split(4, false),
            b"abcdefghij\r\nok\r\n",
            &[(b"abcd", Cut), (b"efgh", Cut), (b"ij", CrLf), (b"ok", CrLf)],
        ),
        (
            "exact multiple",
            split(4, false),
            b"abcdefgh\r\n",
            &[(b"abcd", Cut), (b"efgh", CrLf)],
        ),
        (
            "bare LF (lenient)",
            split(4, true),
            b"abcdef\n",
            &[(b"abcd", Cut), (b"ef", Lf)],
        ),
        (
            "bare LF (strict) is content",
            split(4, false),
            b"ab\ncdef\r\n",
            &[(b"ab\nc", Cut), (b"def", CrLf)],
        ),
        (
            "CR kept at the cut",
            split(3, false),
            b"abc\r\r\n",
            &[(b"abc", Cut), (b"\r", CrLf)],
        ),
        (
            "cut then EOF",
            split(4, false),
            b"abcdefg",
            &[(b"abcd", Cut), (b"efg", Eof)],
        ),
        (
            "max_len 1",
            split(1, true),
            b"ab\n",
            &[(b"a", Cut), (b"b", Lf)],
        ),
    ]);
}

#[test]
fn take_partial_at_eof() {
    let mut buf = LineBuffer::new(strict_cmd(64));
    assert_eq!(buf.take_partial(), None, "nothing pending: no line");
    buf.push(b"NOOP\r\nQUI");
    assert_eq!(buf.next_line(), Some(line(b"NOOP", Ending::CrLf)));
    assert_eq!(buf.next_line(), None);
    assert_eq!(buf.pending(), b"QUI");
    assert_eq!(buf.take_partial(), Some(line(b"QUI", Ending::Eof)));
    assert_eq!(buf.take_partial(), None, "second call: nothing left");
    buf.push(b"NOOP\r\n");
    assert_eq!(
        buf.next_line(),
        Some(line(b"NOOP", Ending::CrLf)),
        "usable after take_partial"
    );
}

#[test]
fn take_pending_hands_over_unframed_bytes() {
    let mut buf = LineBuffer::new(strict_cmd(64));
    buf.push(b"DATA\r\nraw\nbytes\r");
    assert_eq!(buf.next_line(), Some(line(b"DATA", Ending::CrLf)));
    assert_eq!(buf.next_line(), None);
    assert_eq!(buf.take_pending(), b"raw\nbytes\r".to_vec());
    assert!(buf.pending().is_empty());
    buf.push(b"x\r\n");
    assert_eq!(
        buf.next_line(),
        Some(line(b"x", Ending::CrLf)),
        "a fresh scan after take_pending"
    );
}

#[test]
fn set_limits_applies_to_bytes_already_buffered() {
    // A strict scan has already looked past the bare LF; turning bare LF on must still find it.
    let mut buf = LineBuffer::new(split(64, false));
    buf.push(b"a\nb");
    assert_eq!(buf.next_line(), None);
    buf.set_limits(split(64, true));
    assert_eq!(buf.limits(), split(64, true));
    assert_eq!(buf.next_line(), Some(line(b"a", Ending::Lf)));
    assert_eq!(buf.take_partial(), Some(line(b"b", Ending::Eof)));

    // Lowering max_len cuts what is already buffered.
    let mut buf = LineBuffer::new(split(64, false));
    buf.push(b"abcdefgh");
    assert_eq!(buf.next_line(), None);
    buf.set_limits(split(4, false));
    assert_eq!(buf.next_line(), Some(line(b"abcd", Ending::Cut)));
}

#[test]
fn wire_forms_and_presets() {
    assert_eq!(Ending::CrLf.wire(), b"\r\n");
    assert_eq!(Ending::Lf.wire(), b"\n");
    assert_eq!(Ending::Cut.wire(), b"");
    assert_eq!(Ending::Eof.wire(), b"");
    assert_eq!(line(b"NOOP", Ending::CrLf).wire(), b"NOOP\r\n");
    assert_eq!(line(b"abc", Ending::Cut).wire(), b"abc");

    // RFC 5321 §4.5.3.1.4: 512 octets including CRLF.
    assert_eq!(
        LineLimits::RFC5321_COMMAND,
        limits(510, false, Overflow::Truncate)
    );
    assert_eq!(LineLimits::LENIENT, limits(8192, true, Overflow::Split));
}

#[test]
fn rfc5321_command_limit_cuts_at_510() {
    let mut input = b"NOOP ".to_vec();
    input.extend(std::iter::repeat(b'x').take(600));
    input.extend_from_slice(b"\r\nQUIT\r\n");
    for chunk in CHUNKINGS {
        let lines = frame_chunked(LineLimits::RFC5321_COMMAND, &input, chunk);
        assert_eq!(lines.len(), 2, "chunk {chunk}");
        assert_eq!(lines[0].bytes, input[..510].to_vec());
        assert_eq!(lines[0].ending, Ending::Cut);
        assert_eq!(lines[1], line(b"QUIT", Ending::CrLf));
    }
}

/// Bytes rich in the interesting ones: CR, LF, dot.
fn wire_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![3 => Just(b'\r'), 3 => Just(b'\n'), 2 => Just(b'.'), 4 => Just(b'a'), 2 => any::<u8>()],
        0..max,
    )
}

fn any_limits() -> impl Strategy<Value = LineLimits> {
    (
        1usize..24,
        any::<bool>(),
        prop_oneof![Just(Overflow::Truncate), Just(Overflow::Split)],
    )
        .prop_map(|(max_len, bare_lf, overflow)| limits(max_len, bare_lf, overflow))
}

/// Feeds `input` cut at the given chunk lengths (cycled), checking the bound after each drain.
fn frame_with_cuts(limits: LineLimits, input: &[u8], cuts: &[usize]) -> Vec<Line> {
    let mut buf = LineBuffer::new(limits);
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = cuts[i % cuts.len()].min(rest.len());
        i += 1;
        buf.push(&rest[..n]);
        rest = &rest[n..];
        while let Some(line) = buf.next_line() {
            out.push(line);
        }
        assert!(buf.pending().len() <= limits.max_len + 1);
    }
    out.extend(buf.take_partial());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_input_is_framed_independently_of_chunking(
        limits in any_limits(),
        input in wire_bytes(200),
        cuts in prop::collection::vec(1usize..40, 1..8),
    ) {
        let whole = frame_chunked(limits, &input, usize::MAX);
        let chunked = frame_with_cuts(limits, &input, &cuts);
        prop_assert_eq!(&chunked, &whole);
        for l in &whole {
            if l.ending != Ending::Eof {
                prop_assert!(l.bytes.len() <= limits.max_len, "line over max_len: {:?}", l);
            }
            if l.ending == Ending::Lf {
                prop_assert!(limits.bare_lf_ends_line);
            }
        }
    }

    #[test]
    fn split_mode_loses_nothing(
        max_len in 1usize..24,
        bare_lf in any::<bool>(),
        input in wire_bytes(300),
        cuts in prop::collection::vec(1usize..40, 1..8),
    ) {
        let lines = frame_with_cuts(split(max_len, bare_lf), &input, &cuts);
        let rebuilt: Vec<u8> = lines.iter().flat_map(Line::wire).collect();
        prop_assert_eq!(rebuilt, input);
    }

    #[test]
    fn arbitrary_bytes_never_panic(limits in any_limits(), input in prop::collection::vec(any::<u8>(), 0..600)) {
        let lines = frame_chunked(limits, &input, 7);
        let content: usize = lines.iter().map(|l| l.wire().len()).sum();
        prop_assert!(content <= input.len());
    }
}
