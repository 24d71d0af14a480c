//! SMTP replies: code, optional RFC 3463 enhanced status code, one or more text lines;
//! formatting to the wire and an incremental parser for (multi-line) replies.

use super::line::{LineBuffer, LineLimits};
use std::fmt;

/// An RFC 3463 enhanced status code such as `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnhancedCode {
    /// 2, 4 or 5.
    pub class: u8,
    /// Subject (0 to 999).
    pub subject: u16,
    /// Detail (0 to 999).
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses `c.s.d` at the start of `text`; returns the code and the rest after one space.
    pub fn parse_prefix(text: &str) -> Option<(EnhancedCode, &str)> {
        let word_end = text.find(' ').unwrap_or(text.len());
        let word = &text[..word_end];
        let mut parts = word.split('.');
        // Exactly one digit: `str::parse` would also take "+2" or "02".
        let class = match parts.next()?.as_bytes() {
            [c @ (b'2' | b'4' | b'5')] => c - b'0',
            _ => return None,
        };
        let subject_str = parts.next()?;
        let detail_str = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(subject_str) || !digits(detail_str) {
            return None;
        }
        let code = EnhancedCode {
            class,
            subject: subject_str.parse().ok()?,
            detail: detail_str.parse().ok()?,
        };
        Some((
            code,
            text[word_end..]
                .strip_prefix(' ')
                .unwrap_or(&text[word_end..]),
        ))
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP reply. `lines` hold the text after `code` and its separator, exactly as sent
/// (an enhanced code stays part of the text; [`Reply::enhanced`] parses it out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Three-digit reply code.
    pub code: u16,
    /// Text of each line (at least one, possibly empty).
    pub lines: Vec<String>,
}

impl Reply {
    /// A single-line reply.
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// The reply that never came: what a client that reads a reply timeout as a refusal of
    /// the command (swaks) goes on with. Code 0, which no server sends and the parser refuses;
    /// `text` says why (the timeout).
    pub fn missing(text: impl Into<String>) -> Reply {
        Reply::new(0, text)
    }

    /// True for [`Reply::missing`].
    pub fn is_missing(&self) -> bool {
        self.code == 0
    }

    /// Builds a reply from `"250 text"`; `\n` separates the lines of a multi-line reply
    /// (`"250-first\n250 last"` or simply `"250 first\nlast"`).
    pub fn from_template(template: &str) -> Option<Reply> {
        let mut code = None;
        let mut lines = Vec::new();
        for raw in template.split('\n') {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            match parse_reply_line(raw.as_bytes()) {
                Ok(parsed) if code.is_none() || code == Some(parsed.code) => {
                    code = Some(parsed.code);
                    lines.push(parsed.text);
                }
                _ if code.is_some() => lines.push(raw.to_string()),
                _ => return None,
            }
        }
        Some(Reply { code: code?, lines })
    }

    /// Class digit: 2, 3, 4 or 5 (0 for [`Reply::missing`]).
    pub fn class(&self) -> u8 {
        (self.code / 100) as u8
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        self.class() == 2
    }

    /// 4xx.
    pub fn is_transient(&self) -> bool {
        self.class() == 4
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        self.class() == 5
    }

    /// The enhanced status code at the start of the first line, if any.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        EnhancedCode::parse_prefix(self.lines.first()?).map(|(c, _)| c)
    }

    /// Text lines with the enhanced code removed.
    pub fn plain_text(&self) -> String {
        self.lines
            .iter()
            .map(|l| {
                EnhancedCode::parse_prefix(l)
                    .map(|(_, rest)| rest)
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }

    /// The wire form, CRLF-terminated, one `code-text` line per continuation line.
    pub fn to_wire(&self) -> Vec<u8> {
        let code = self.code.to_string();
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.len() + 6).sum());
        let last = self.lines.len().saturating_sub(1);
        for (i, text) in self.lines.iter().enumerate() {
            out.extend_from_slice(code.as_bytes());
            if !(text.is_empty() && i == last) {
                out.push(if i == last { b' ' } else { b'-' });
                out.extend_from_slice(text.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        if self.lines.is_empty() {
            out.extend_from_slice(code.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// The wire lines without terminators (for display).
    pub fn wire_lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.to_wire())
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_missing() {
            return write!(f, "no reply ({})", self.lines.join(" / "));
        }
        f.write_str(&self.wire_lines().join(" / "))
    }
}

/// Why a reply line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// The line does not start with three digits, the first in 2..=5.
    BadCode(String),
    /// The fourth byte is neither space, `-` nor end of line.
    BadSeparator(String),
    /// A continuation line carried a different code than the first line.
    CodeMismatch {
        /// The first line's code.
        expected: u16,
        /// The continuation line's code.
        got: u16,
    },
    /// The line was longer than the reply line limit.
    TooLong,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::BadCode(l) => write!(f, "reply line without a valid code: {l:?}"),
            ReplyError::BadSeparator(l) => write!(f, "reply line with a bad separator: {l:?}"),
            ReplyError::CodeMismatch { expected, got } => {
                write!(f, "multi-line reply changed code from {expected} to {got}")
            }
            ReplyError::TooLong => f.write_str("reply line too long"),
        }
    }
}

impl std::error::Error for ReplyError {}

struct ParsedLine {
    code: u16,
    last: bool,
    text: String,
}

fn parse_reply_line(line: &[u8]) -> Result<ParsedLine, ReplyError> {
    let lossy = || String::from_utf8_lossy(line).into_owned();
    if line.len() < 3
        || !(b'2'..=b'5').contains(&line[0])
        || !line[1].is_ascii_digit()
        || !line[2].is_ascii_digit()
    {
        return Err(ReplyError::BadCode(lossy()));
    }
    let code =
        (line[0] - b'0') as u16 * 100 + (line[1] - b'0') as u16 * 10 + (line[2] - b'0') as u16;
    let (last, text) = match line.get(3) {
        None => (true, &line[3..3]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(ReplyError::BadSeparator(lossy())),
    };
    Ok(ParsedLine {
        code,
        last,
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

/// Incremental reply parser: push bytes, pull complete replies.
#[derive(Debug, Clone)]
pub struct ReplyParser {
    lines: LineBuffer,
    partial: Option<Reply>,
    /// The rest of an over-long line already reported as `TooLong` is being dropped.
    skipping_long_line: bool,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new()
    }
}

impl ReplyParser {
    /// A parser accepting CRLF or bare LF, lines up to 8 KiB.
    pub fn new() -> Self {
        ReplyParser {
            lines: LineBuffer::new(LineLimits::LENIENT),
            partial: None,
            skipping_long_line: false,
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.lines.push(bytes);
    }

    /// Takes every byte not yet parsed (the stream stops being SMTP replies, e.g. at TLS).
    pub fn take_raw(&mut self) -> Vec<u8> {
        self.partial = None;
        self.skipping_long_line = false;
        self.lines.take_raw(usize::MAX)
    }

    /// True if a reply has started but is not complete.
    pub fn is_mid_reply(&self) -> bool {
        self.partial.is_some() || self.skipping_long_line || !self.lines.pending().is_empty()
    }

    /// The next complete reply, an error for a malformed line (the parser resynchronises on
    /// the next line), or `None` when more data is needed.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        loop {
            let line = self.lines.next_line()?;
            if self.skipping_long_line {
                // Drop the rest of the over-long line, however late its pieces arrive.
                self.skipping_long_line = line.ending == super::line::Ending::Cut;
                continue;
            }
            if line.ending == super::line::Ending::Cut {
                self.partial = None;
                self.skipping_long_line = true;
                return Some(Err(ReplyError::TooLong));
            }
            let parsed = match parse_reply_line(&line.bytes) {
                Ok(p) => p,
                Err(e) => {
                    self.partial = None;
                    return Some(Err(e));
                }
            };
            let reply = match self.partial.take() {
                Some(mut r) => {
                    if r.code != parsed.code {
                        return Some(Err(ReplyError::CodeMismatch {
                            expected: r.code,
                            got: parsed.code,
                        }));
                    }
                    r.lines.push(parsed.text);
                    r
                }
                None => Reply {
                    code: parsed.code,
                    lines: vec![parsed.text],
                },
            };
            if parsed.last {
                return Some(Ok(reply));
            }
            self.partial = Some(reply);
        }
    }
}
