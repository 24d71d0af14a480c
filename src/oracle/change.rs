//! What changed between the content a client sent and the copy a server delivered, in a mail
//! administrator's words: the content cut short (after which byte), header fields added,
//! removed or rewritten (which), text appended to or put in front of the body, or the body
//! changed (from which byte of it).

/// One header field: its name and its whole text (continuation lines included).
struct Field<'a> {
    name: String,
    text: &'a [u8],
}

/// `sent` and `got` are canonical (CRLF line endings, unstuffed, no final `.`). Empty when
/// they are the same.
pub fn describe(sent: &[u8], got: &[u8]) -> String {
    if sent == got {
        return String::new();
    }
    if got.len() < sent.len() && sent.starts_with(got) {
        return format!(
            "the content cut short: {} of {} bytes arrived, cut after byte {}",
            got.len(),
            sent.len(),
            got.len()
        );
    }
    let (sent_head, sent_body) = split(sent);
    let (got_head, got_body) = split(got);
    let mut changes = headers(&fields(sent_head), &fields(got_head));
    if let Some(body) = body(sent_body, got_body) {
        changes.push(body);
    }
    changes.join("; ")
}

/// The header section (up to the empty line) and the body after it; no empty line: all body.
fn split(content: &[u8]) -> (&[u8], &[u8]) {
    if content.starts_with(b"\r\n") {
        return (&[], &content[2..]);
    }
    match content.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&content[..at + 2], &content[at + 4..]),
        None => (&[], content),
    }
}

fn fields(head: &[u8]) -> Vec<Field<'_>> {
    let mut out: Vec<Field<'_>> = Vec::new();
    let mut start = 0;
    for (i, line) in head.split_inclusive(|&b| b == b'\n').enumerate() {
        let continuation = i > 0 && matches!(line.first(), Some(b' ' | b'\t'));
        if continuation {
            if let Some(last) = out.last_mut() {
                last.text = &head[start - last.text.len()..start + line.len()];
            }
        } else {
            let name = line.split(|&b| b == b':').next().unwrap_or(b"");
            out.push(Field {
                name: String::from_utf8_lossy(name).trim().to_string(),
                text: &head[start..start + line.len()],
            });
        }
        start += line.len();
    }
    out
}

/// Header fields added, removed or rewritten, by name, in the order they first appear.
fn headers(sent: &[Field<'_>], got: &[Field<'_>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for f in sent.iter().chain(got) {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&f.name)) {
            names.push(f.name.clone());
        }
    }
    let mut changes = Vec::new();
    for name in names {
        let (before, after) = (named(sent, &name), named(got, &name));
        if before == after {
            continue;
        }
        match (before.len(), after.len()) {
            (0, _) => changes.push(format!("header {name} added: {}", quote(after[0]))),
            (_, 0) => changes.push(format!("header {name} removed")),
            (b, a) if b == a => {
                let (old, new) = before
                    .iter()
                    .zip(&after)
                    .find(|(o, n)| o != n)
                    .expect("the lists differ");
                changes.push(format!(
                    "header {name} rewritten: {} became {}",
                    quote(value(old)),
                    quote(value(new))
                ));
            }
            (b, a) => changes.push(format!("header {name} appears {a} times, sent {b} times")),
        }
    }
    changes
}

/// The texts of the fields called `name`, in order.
fn named<'a>(fields: &[Field<'a>], name: &str) -> Vec<&'a [u8]> {
    fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(name))
        .map(|f| f.text)
        .collect()
}

/// A field's value: after the colon, without the line ending.
fn value(field: &[u8]) -> &[u8] {
    let after = field
        .iter()
        .position(|&b| b == b':')
        .map_or(field, |c| &field[c + 1..]);
    let start = after.iter().position(|&b| b != b' ').unwrap_or(after.len());
    let trimmed = &after[start..];
    trimmed.strip_suffix(b"\r\n").unwrap_or(trimmed)
}

fn body(sent: &[u8], got: &[u8]) -> Option<String> {
    if sent == got {
        return None;
    }
    Some(if got.starts_with(sent) {
        let added = &got[sent.len()..];
        format!(
            "text appended to the body ({} bytes): {}",
            added.len(),
            quote(added)
        )
    } else if got.ends_with(sent) {
        let added = &got[..got.len() - sent.len()];
        format!(
            "text put in front of the body ({} bytes): {}",
            added.len(),
            quote(added)
        )
    } else if sent.starts_with(got) {
        format!(
            "the body cut short: {} of its {} bytes arrived",
            got.len(),
            sent.len()
        )
    } else {
        let at = sent.iter().zip(got).take_while(|(a, b)| a == b).count();
        format!("the body changed from its byte {at} on")
    })
}

/// Text for a report: quoted, CR and LF shown as `\r` and `\n`, at most 80 characters.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        shown.push_str("...");
    }
    format!("{shown:?}")
}

#[cfg(test)]
mod tests {
    use super::describe;

    const SENT: &[u8] = b"From: a@example.net\r\nSubject: minutes\r\n\r\nthe minutes\r\n";

    #[test]
    fn same_content_has_no_description() {
        assert_eq!(describe(SENT, SENT), "");
    }

    #[test]
    fn a_cut_names_the_byte() {
        assert_eq!(
            describe(SENT, &SENT[..30]),
            "the content cut short: 30 of 54 bytes arrived, cut after byte 30"
        );
    }

    #[test]
    fn a_tag_and_a_footer_are_both_named() {
        let got = b"From: a@example.net\r\nSubject: [ok] minutes\r\n\r\nthe minutes\r\n-- \r\nscanned\r\n";
        assert_eq!(
            describe(SENT, got),
            "header Subject rewritten: \"minutes\" became \"[ok] minutes\"; \
             text appended to the body (14 bytes): \"-- \\r\\nscanned\\r\\n\""
        );
    }

    #[test]
    fn added_and_removed_headers_are_named() {
        let got = b"Subject: minutes\r\nX-Scanned: yes\r\n\r\nthe minutes\r\n";
        assert_eq!(
            describe(SENT, got),
            "header From removed; header X-Scanned added: \"X-Scanned: yes\\r\\n\""
        );
    }

    #[test]
    fn a_changed_body_names_where_it_starts_to_differ() {
        let got = b"From: a@example.net\r\nSubject: minutes\r\n\r\nthe MINUTES\r\n";
        assert_eq!(describe(SENT, got), "the body changed from its byte 4 on");
    }

    #[test]
    fn text_put_in_front_of_the_body_is_named() {
        let got = b"From: a@example.net\r\nSubject: minutes\r\n\r\nWARNING\r\nthe minutes\r\n";
        assert_eq!(
            describe(SENT, got),
            "text put in front of the body (9 bytes): \"WARNING\\r\\n\""
        );
    }

    #[test]
    fn a_folded_header_is_one_field() {
        let sent = b"Subject: a\r\n b\r\n\r\nx\r\n";
        let got = b"Subject: a\r\n c\r\n\r\nx\r\n";
        assert_eq!(
            describe(sent, got),
            "header Subject rewritten: \"a\\r\\n b\" became \"a\\r\\n c\""
        );
    }
}
