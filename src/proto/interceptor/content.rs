//! What the interceptor does to message content sent with DATA (BDAT chunks pass untouched):
//! a mail shield's subject tag and body footer, a scanner's added header, a firewall's
//! header-line limit, and the signature a scanner looks for while the content goes by.

use super::InterceptorConfig;
use crate::proto::line::Line;

/// What becomes of one content line (not the final `.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fate {
    /// Passed on as these bytes (the line, possibly rewritten), with a note if rewritten.
    Pass(Vec<u8>, Option<String>),
    /// Both connections dropped, for this reason.
    Drop(String),
    /// The signature was found in this line.
    Detected,
}

/// Where the interceptor is in one message's content.
#[derive(Debug)]
pub(super) struct Content {
    in_headers: bool,
    tagged: bool,
    /// `tag_signature` was found: the message gets `tag_headers`.
    pub(super) spam: bool,
}

impl Default for Content {
    fn default() -> Self {
        Content {
            in_headers: true,
            tagged: false,
            spam: false,
        }
    }
}

impl Content {
    /// The fate of the next content line.
    pub(super) fn line(&mut self, cfg: &InterceptorConfig, line: &Line) -> Fate {
        let bytes = &line.bytes;
        let signature = cfg.block_signature.as_bytes();
        if !signature.is_empty() && bytes.windows(signature.len()).any(|w| w == signature) {
            return Fate::Detected;
        }
        let tag = cfg.tag_signature.as_bytes();
        if !tag.is_empty() && bytes.windows(tag.len()).any(|w| w == tag) {
            self.spam = true;
        }
        if !self.in_headers {
            return Fate::Pass(line.wire(), None);
        }
        if bytes.is_empty() {
            self.in_headers = false;
            if cfg.added_header.is_empty() {
                return Fate::Pass(line.wire(), None);
            }
            let mut out = cfg.added_header.as_bytes().to_vec();
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&line.wire());
            let note = format!("header added: {}", cfg.added_header);
            return Fate::Pass(out, Some(note));
        }
        let max = cfg.max_header_line;
        if max > 0 && bytes.len() as u64 > max {
            return Fate::Drop(format!(
                "a header line of {} bytes, over the limit of {max}",
                bytes.len()
            ));
        }
        let subject = bytes.len() >= 8 && bytes[..8].eq_ignore_ascii_case(b"subject:");
        if subject && !self.tagged && !cfg.subject_tag.is_empty() {
            self.tagged = true;
            let mut out = bytes[..8].to_vec();
            out.push(b' ');
            out.extend_from_slice(cfg.subject_tag.as_bytes());
            out.extend_from_slice(&bytes[8..]);
            out.extend_from_slice(line.ending.wire());
            let note = format!("subject tagged with {:?}", cfg.subject_tag);
            return Fate::Pass(out, Some(note));
        }
        Fate::Pass(line.wire(), None)
    }
}

/// The `body_footer` as content lines (CRLF, dot-stuffed), to go before the final `.`;
/// empty when there is none.
pub(super) fn footer(cfg: &InterceptorConfig) -> Vec<u8> {
    let mut out = Vec::new();
    if cfg.body_footer.is_empty() {
        return out;
    }
    for line in cfg.body_footer.split('\n') {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A held message as it goes upstream: `top_headers` (or `tag_headers` when `spam`) in front
/// of `held` (content lines on the wire, dot-stuffed), and then, under
/// `trim_trailing_blank_lines`, without the empty lines at its end. Untouched when there are
/// no header fields to add. Returns the note to make, if any.
pub(super) fn rewrite_held(
    cfg: &InterceptorConfig,
    spam: bool,
    held: &mut Vec<u8>,
) -> Option<String> {
    let headers = if spam {
        &cfg.tag_headers
    } else {
        &cfg.top_headers
    };
    if headers.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for field in headers {
        for line in field.split('\n') {
            if line.starts_with('.') {
                out.push(b'.');
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.append(held);
    let mut trimmed = 0;
    if cfg.trim_trailing_blank_lines {
        while out.ends_with(b"\r\n\r\n") {
            out.truncate(out.len() - 2);
            trimmed += 1;
        }
    }
    *held = out;
    let what = if spam { "tagged" } else { "untagged" };
    let names: Vec<&str> = headers
        .iter()
        .map(|h| h.split_once(':').map_or(h.as_str(), |(n, _)| n))
        .collect();
    let mut note = format!("{what} message: {} added at the top", names.join(", "));
    if trimmed > 0 {
        note.push_str(&format!(", {trimmed} empty line(s) at its end dropped"));
    }
    Some(note)
}
