//! Reply parsing: any bytes, any chunking. The incremental parser gives the same results
//! however the bytes arrive, resynchronises after every error, and a parsed reply's wire form
//! parses back to the same reply. Templates (`Reply::from_template`) never panic.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtpsim::proto::{Reply, ReplyParser};

#[derive(Arbitrary, Debug)]
struct Input {
    cuts: Vec<u16>,
    bytes: Vec<u8>,
}

type Parsed = Vec<Result<Reply, smtpsim::proto::reply::ReplyError>>;

fn parse(chunks: &[&[u8]]) -> Parsed {
    let mut parser = ReplyParser::new();
    let mut out = Vec::new();
    for chunk in chunks {
        parser.push(chunk);
        while let Some(result) = parser.next_reply() {
            out.push(result);
        }
    }
    out
}

fuzz_target!(|input: Input| {
    let bytes = &input.bytes[..];
    let whole = parse(&[bytes]);
    let chunks = smtpsim_fuzz::chunks(bytes, &input.cuts);
    assert_eq!(parse(&chunks), whole, "chunking changed the replies");

    for reply in whole.iter().flatten() {
        assert!((200..600).contains(&reply.code));
        assert!(!reply.lines.is_empty());
        let _ = (reply.enhanced(), reply.plain_text(), reply.to_string());
        let again = parse(&[&reply.to_wire()]);
        // Lossy UTF-8 and embedded CRs aside, a reply survives its own wire form.
        if reply
            .lines
            .iter()
            .all(|l| !l.contains(['\r', '\n', '\u{fffd}']))
        {
            assert_eq!(again, vec![Ok(reply.clone())], "{reply:?}");
        }
    }
    // Resync: after anything at all, a well-formed reply still comes through.
    let mut parser = ReplyParser::new();
    parser.push(bytes);
    while parser.next_reply().is_some() {}
    // Two line ends: one may only end a partial line, the next is an empty (bad) line.
    parser.push(b"\r\n\r\n250 ok\r\n");
    let mut last = None;
    while let Some(r) = parser.next_reply() {
        last = Some(r);
    }
    assert_eq!(
        last,
        Some(Ok(Reply::new(250, "ok"))),
        "no resync after {bytes:?}"
    );

    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Some(reply) = Reply::from_template(text) {
            let _ = reply.to_wire();
        }
    }
});
