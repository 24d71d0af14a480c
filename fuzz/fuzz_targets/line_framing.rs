//! Line framing: any bytes, any chunking, any limits. Lines never exceed the limit, never
//! contain their terminator, the framer's memory stays bounded, chunking changes nothing, and
//! in `Split` mode the lines put back together are exactly the input.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtpsim::proto::line::{Ending, Line, LineBuffer, LineLimits, Overflow};

#[derive(Arbitrary, Debug)]
struct Input {
    max_len: u16,
    bare_lf_ends_line: bool,
    split: bool,
    /// Where the input is cut into reads (offsets, taken modulo the length).
    cuts: Vec<u16>,
    bytes: Vec<u8>,
}

fn frame(limits: LineLimits, chunks: &[&[u8]]) -> Vec<Line> {
    let mut framer = LineBuffer::new(limits);
    let mut lines = Vec::new();
    for chunk in chunks {
        framer.push(chunk);
        while let Some(line) = framer.next_line() {
            lines.push(line);
        }
        // Bounded memory: at most one line's worth plus a CR that may start a CRLF.
        assert!(framer.pending().len() <= limits.max_len.max(1) + 1);
    }
    lines.extend(framer.take_partial());
    assert!(framer.pending().is_empty());
    lines
}

fuzz_target!(|input: Input| {
    let limits = LineLimits {
        max_len: usize::from(input.max_len % 1024),
        bare_lf_ends_line: input.bare_lf_ends_line,
        overflow: if input.split {
            Overflow::Split
        } else {
            Overflow::Truncate
        },
    };
    let bytes = &input.bytes[..];
    let whole = frame(limits, &[bytes]);

    let chunks = smtpsim_fuzz::chunks(bytes, &input.cuts);
    assert_eq!(
        frame(limits, &chunks),
        whole,
        "chunking changed the framing"
    );

    for line in &whole {
        // A partial line at end of stream may keep the CR that could have started a CRLF.
        let slack = usize::from(line.ending == Ending::Eof);
        assert!(
            line.bytes.len() <= limits.max_len.max(1) + slack,
            "{line:?}"
        );
        assert!(!line.bytes.windows(2).any(|w| w == b"\r\n"), "{line:?}");
        if !limits.bare_lf_ends_line {
            assert_ne!(line.ending, Ending::Lf);
        } else {
            assert!(!line.bytes.contains(&b'\n'), "{line:?}");
        }
    }
    if limits.overflow == Overflow::Split {
        let rebuilt: Vec<u8> = whole.iter().flat_map(Line::wire).collect();
        assert_eq!(rebuilt, bytes, "split framing lost or invented bytes");
    }
});
