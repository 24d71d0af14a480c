//! DATA content. A stuffed message framed and unstuffed by a receiver comes back exactly as
//! `canonical` says, ends exactly at its own final dot with the standard `CRLF.CRLF`, however
//! it is framed (line limit, bare LF) and whatever follows it. Raw bytes fed to a receiver never
//! panic, and its size accounting and keep limit hold.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtpsim::proto::data::{canonical, stuff, DataEvent, DataReceiver};
use smtpsim::proto::line::{LineBuffer, LineLimits, Overflow};

#[derive(Arbitrary, Debug)]
struct Input {
    max_len: u16,
    bare_lf_ends_line: bool,
    keep_limit: Option<u16>,
    body: Vec<u8>,
    after: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let limits = LineLimits {
        max_len: usize::from(input.max_len % 1024).max(1),
        bare_lf_ends_line: input.bare_lf_ends_line,
        overflow: Overflow::Split,
    };
    // 1. A stuffed message round-trips, and the end is found at the final dot.
    let mut wire = stuff(&input.body);
    let message_len = wire.len();
    wire.extend_from_slice(&input.after);
    let mut framer = LineBuffer::new(limits);
    framer.push(&wire);
    let mut receiver = DataReceiver::new(None);
    let mut consumed = 0;
    let end = loop {
        let line = framer
            .next_line()
            .expect("a stuffed message always has its end of data");
        consumed += line.wire().len();
        if let DataEvent::End(end) = receiver.handle_line(&line) {
            break end;
        }
    };
    assert_eq!(
        consumed, message_len,
        "end of data found at the wrong place"
    );
    // `stuff` ends every line with CRLF, the last one included: the end is always standard.
    assert!(!end.is_nonstandard(), "{end:?}");
    assert_eq!(receiver.size(), receiver.body().len() as u64);
    assert_eq!(receiver.into_body(), canonical(&input.body));

    // 2. Raw bytes: no panic, accounting holds.
    let keep = input.keep_limit.map(u64::from);
    let mut framer = LineBuffer::new(limits);
    framer.push(&input.body);
    let mut receiver = DataReceiver::new(keep);
    while let Some(line) = framer.next_line() {
        if let DataEvent::End(end) = receiver.handle_line(&line) {
            let _ = end.is_nonstandard();
            break;
        }
    }
    if let Some(limit) = keep {
        assert!(receiver.body().len() as u64 <= limit);
    }
    assert_eq!(
        receiver.overflowed(),
        receiver.size() > receiver.body().len() as u64
    );
});
