//! Message content: dot-stuffing for the sender, unstuffing and end-of-data detection for
//! the receiver. Which byte sequences end the data depends on the framing rules (bare LF or
//! not), so the SMTP smuggling vectors (`\n.\r\n`, `\r\n.\n`, `\n.\n`, `\r.\r\n`) are decided
//! here, and reported, rather than guessed.

use super::line::{Ending, Line};

/// Splits a message into wire lines, each dot-stuffed and CRLF-terminated (a bare LF in the
/// input is taken as a line end and sent as CRLF). The final `.` line is not included.
pub fn stuffed_lines(body: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (content, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let content = if i > 0 && rest[i - 1] == b'\r' {
                    &rest[..i - 1]
                } else {
                    &rest[..i]
                };
                (content, &rest[i + 1..])
            }
            None => (rest, &rest[rest.len()..]),
        };
        let mut line = Vec::with_capacity(content.len() + 3);
        if content.first() == Some(&b'.') {
            line.push(b'.');
        }
        line.extend_from_slice(content);
        line.extend_from_slice(b"\r\n");
        lines.push(line);
        rest = next;
    }
    lines
}

/// The wire form of a whole message: stuffed lines followed by `.\r\n`.
pub fn stuff(body: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = stuffed_lines(body).concat();
    out.extend_from_slice(b".\r\n");
    out
}

/// The content a receiver should end up with for `body` (lines normalised to CRLF).
pub fn canonical(body: &[u8]) -> Vec<u8> {
    stuffed_lines(body)
        .into_iter()
        .flat_map(|l| {
            if l.first() == Some(&b'.') {
                l[1..].to_vec()
            } else {
                l
            }
        })
        .collect()
}

/// How the message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndOfData {
    /// Terminator of the line before the dot (`None` if the dot was the first line).
    pub before: Option<Ending>,
    /// Terminator of the dot line itself.
    pub after: Ending,
}

impl EndOfData {
    /// True for anything other than the RFC 5321 `CRLF.CRLF`.
    pub fn is_nonstandard(&self) -> bool {
        self.after != Ending::CrLf || matches!(self.before, Some(e) if e != Ending::CrLf)
    }
}

/// What one line of content did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataEvent {
    /// More content; the receiver keeps reading.
    Content,
    /// The end-of-data line was seen.
    End(EndOfData),
}

/// Receiver side of DATA: takes framed lines, unstuffs, detects the end, counts bytes.
#[derive(Debug, Clone, Default)]
pub struct DataReceiver {
    body: Vec<u8>,
    /// Bytes of content received (after unstuffing), including any dropped over the limit.
    size: u64,
    /// Keep at most this many bytes (`None`: keep all).
    keep_limit: Option<u64>,
    prev_ending: Option<Ending>,
}

impl DataReceiver {
    /// A receiver that keeps at most `keep_limit` bytes (but still counts the rest).
    pub fn new(keep_limit: Option<u64>) -> Self {
        DataReceiver {
            keep_limit,
            ..Default::default()
        }
    }

    /// Feeds one framed line.
    pub fn handle_line(&mut self, line: &Line) -> DataEvent {
        let at_line_start = !matches!(self.prev_ending, Some(Ending::Cut));
        if at_line_start && line.bytes == b"." && matches!(line.ending, Ending::CrLf | Ending::Lf) {
            return DataEvent::End(EndOfData {
                before: self.prev_ending,
                after: line.ending,
            });
        }
        let content = if at_line_start && line.bytes.first() == Some(&b'.') {
            &line.bytes[1..]
        } else {
            &line.bytes[..]
        };
        self.append(content);
        // A bare LF is stored as the line end it was taken for.
        let ending: &[u8] = match line.ending {
            Ending::CrLf | Ending::Lf => b"\r\n",
            Ending::Cut | Ending::Eof => b"",
        };
        self.append(ending);
        self.prev_ending = Some(line.ending);
        DataEvent::Content
    }

    fn append(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        let room = self.keep_limit.map_or(usize::MAX, |l| {
            l.saturating_sub(self.body.len() as u64) as usize
        });
        self.body.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Content bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True if more was received than kept.
    pub fn overflowed(&self) -> bool {
        self.size > self.body.len() as u64
    }

    /// The unstuffed content.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Takes the content received so far out (streaming receivers keep nothing).
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// The unstuffed content so far.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}
