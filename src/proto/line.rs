//! CRLF line framing with hard limits. Bytes go in, complete lines come out; a partial line
//! is the normal "need more data" outcome, never an error.

/// How a line ended on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `\r\n`, the only terminator RFC 5321 allows.
    CrLf,
    /// A bare `\n` (accepted only when [`LineLimits::bare_lf_ends_line`] is set).
    Lf,
    /// No terminator: the line hit the length limit and was cut here.
    Cut,
    /// No terminator: the peer closed the connection in the middle of the line.
    Eof,
}

impl Ending {
    /// The terminator bytes as they appeared on the wire.
    pub fn wire(self) -> &'static [u8] {
        match self {
            Ending::CrLf => b"\r\n",
            Ending::Lf => b"\n",
            Ending::Cut | Ending::Eof => b"",
        }
    }
}

/// One framed line: its content without the terminator, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Content without the terminator.
    pub bytes: Vec<u8>,
    /// The terminator seen.
    pub ending: Ending,
}

impl Line {
    /// The line as it was on the wire (content plus terminator).
    pub fn wire(&self) -> Vec<u8> {
        let mut v = self.bytes.clone();
        v.extend_from_slice(self.ending.wire());
        v
    }
}

/// What to do with the rest of a line longer than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Emit the first `max_len` bytes as a `Cut` line and discard the rest up to the next
    /// terminator (Postfix `line_length_limit` for commands).
    Truncate,
    /// Emit `max_len`-byte `Cut` pieces and keep going (message content: nothing is lost).
    Split,
}

/// Framing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimits {
    /// Longest content kept per line, terminator excluded.
    pub max_len: usize,
    /// Whether a bare `\n` ends a line (Postfix: yes; strict RFC 5321: no).
    pub bare_lf_ends_line: bool,
    /// What happens past `max_len`.
    pub overflow: Overflow,
}

impl LineLimits {
    /// RFC 5321 command lines: 512 octets including CRLF; bare LF is not a terminator.
    pub const RFC5321_COMMAND: LineLimits = LineLimits {
        max_len: 510,
        bare_lf_ends_line: false,
        overflow: Overflow::Truncate,
    };
    /// Generous limits for reading replies and proxied traffic.
    pub const LENIENT: LineLimits = LineLimits {
        max_len: 8192,
        bare_lf_ends_line: true,
        overflow: Overflow::Split,
    };
}

/// Incremental line framer. Memory stays bounded by `max_len` whatever the input.
#[derive(Debug, Clone)]
pub struct LineBuffer {
    limits: LineLimits,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a terminator.
    scanned: usize,
    /// Inside an over-long line whose rest is being discarded (Truncate mode).
    discarding: bool,
}

impl LineBuffer {
    /// An empty buffer with the given rules.
    pub fn new(limits: LineLimits) -> Self {
        // A zero limit could never make progress: at least one byte per piece.
        let limits = LineLimits {
            max_len: limits.max_len.max(1),
            ..limits
        };
        LineBuffer {
            limits,
            buf: Vec::new(),
            scanned: 0,
            discarding: false,
        }
    }

    /// The rules in force.
    pub fn limits(&self) -> LineLimits {
        self.limits
    }

    /// Change the rules (e.g. when a session switches between commands and message content).
    pub fn set_limits(&mut self, limits: LineLimits) {
        self.limits = limits;
        // Bytes already scanned under the old rules may hold a terminator under the new ones
        // (a bare LF once `bare_lf_ends_line` is turned on).
        self.scanned = 0;
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet framed into a line.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Take every unframed byte out, e.g. when the connection switches to raw relaying.
    pub fn take_pending(&mut self) -> Vec<u8> {
        self.scanned = 0;
        std::mem::take(&mut self.buf)
    }

    /// Up to `max` raw bytes, unframed (a BDAT chunk): whatever of them has arrived.
    pub fn take_raw(&mut self, max: usize) -> Vec<u8> {
        let n = max.min(self.buf.len());
        self.scanned = 0;
        self.buf.drain(..n).collect()
    }

    /// The next complete line, or `None` if more data is needed.
    pub fn next_line(&mut self) -> Option<Line> {
        loop {
            let terminator = self.find_terminator();
            if self.discarding {
                match terminator {
                    Some((end, len, _)) => {
                        self.buf.drain(..end + len);
                        self.scanned = 0;
                        self.discarding = false;
                        continue;
                    }
                    None => {
                        let keep = usize::from(self.buf.last() == Some(&b'\r'));
                        self.buf.drain(..self.buf.len() - keep);
                        self.scanned = self.buf.len();
                        return None;
                    }
                }
            }
            // A trailing CR may be the first half of a CRLF: it is not content yet.
            let content_len = match terminator {
                Some((end, _, _)) => end,
                None => self.buf.len() - usize::from(self.buf.last() == Some(&b'\r')),
            };
            if content_len > self.limits.max_len {
                let rest = self.buf.split_off(self.limits.max_len);
                let bytes = std::mem::replace(&mut self.buf, rest);
                self.scanned = 0;
                self.discarding = self.limits.overflow == Overflow::Truncate;
                return Some(Line {
                    bytes,
                    ending: Ending::Cut,
                });
            }
            let (end, len, ending) = terminator?;
            let rest = self.buf.split_off(end + len);
            let mut bytes = std::mem::replace(&mut self.buf, rest);
            bytes.truncate(end);
            self.scanned = 0;
            return Some(Line { bytes, ending });
        }
    }

    /// Finds the first terminator: (content end, terminator length, ending).
    fn find_terminator(&mut self) -> Option<(usize, usize, Ending)> {
        let mut from = self.scanned;
        while let Some(pos) = self.buf[from..].iter().position(|&b| b == b'\n') {
            let lf = from + pos;
            if lf > 0 && self.buf[lf - 1] == b'\r' {
                return Some((lf - 1, 2, Ending::CrLf));
            }
            if self.limits.bare_lf_ends_line {
                return Some((lf, 1, Ending::Lf));
            }
            from = lf + 1;
        }
        self.scanned = self.buf.len();
        None
    }

    /// At end of stream: whatever partial line is left, ended by `Eof`.
    pub fn take_partial(&mut self) -> Option<Line> {
        if self.buf.is_empty() || self.discarding {
            self.buf.clear();
            self.discarding = false;
            self.scanned = 0;
            return None;
        }
        self.scanned = 0;
        Some(Line {
            bytes: std::mem::take(&mut self.buf),
            ending: Ending::Eof,
        })
    }
}
