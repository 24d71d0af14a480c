//! The headers a client adds to the content before it sends it ([`Stamp`]): what the server
//! stores is the stamped content, so the oracle compares against that.

use super::client::{Message, Stamp};
use super::data::canonical;
use super::date::rfc5322;

/// The content `message` is sent with by a client that stamps it as `stamp`, `helo` being
/// its host name and `unix_secs` the time it was handed the message.
pub fn stamped(stamp: Stamp, message: &Message, helo: &str, unix_secs: u64) -> Vec<u8> {
    match stamp {
        Stamp::None => message.body.clone(),
        Stamp::Ssmtp => ssmtp(message, helo, unix_secs),
        Stamp::Msmtp => msmtp(message, unix_secs),
        Stamp::Postfix => postfix(message, helo, unix_secs),
        Stamp::Swaks => {
            let mut content = canonical(&message.body);
            content.extend_from_slice(b"\r\n");
            content
        }
    }
}

/// ssmtp 2.64 (measured): `Received: by HOST (sSMTP sendmail emulation); DATE` first, then
/// `From:` and `Date:` where the content's header has none, then the content as it was.
/// Assumed: the From display name (the invoking user's full name) is the sender's local part.
fn ssmtp(message: &Message, helo: &str, unix_secs: u64) -> Vec<u8> {
    let content = canonical(&message.body);
    let date = rfc5322(unix_secs);
    let has = |name: &str| header_names(&content).any(|h| h.eq_ignore_ascii_case(name));
    let mut out = format!("Received: by {helo} (sSMTP sendmail emulation); {date}\r\n");
    if !has("From") {
        let local = message.from.rsplit_once('@').map_or("", |(l, _)| l);
        out.push_str(&format!("From: \"{local}\" <{}>\r\n", message.from));
    }
    if !has("Date") {
        out.push_str(&format!("Date: {date}\r\n"));
    }
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&content);
    bytes
}

/// msmtp 1.8.23 (measured): where the content's header has none, `From: SENDER`, `Date:` and
/// `Message-ID: <32 hex digits.SENDER>` first, then the content as it was. Measured: Date and
/// Message-ID added together, and From alone; assumed: the order when all three are missing
/// (msmtp's set_from_header, set_date_header, set_msgid_header in that order). msmtp's 32
/// digits are random; here they are the send time and message number, so runs replay.
fn msmtp(message: &Message, unix_secs: u64) -> Vec<u8> {
    let content = canonical(&message.body);
    let has = |name: &str| header_names(&content).any(|h| h.eq_ignore_ascii_case(name));
    let mut out = String::new();
    if !has("From") {
        out.push_str(&format!("From: {}\r\n", message.from));
    }
    if !has("Date") {
        out.push_str(&format!("Date: {}\r\n", rfc5322(unix_secs)));
    }
    if !has("Message-ID") {
        let digits = format!("{unix_secs:016x}{:016x}", message.id);
        out.push_str(&format!("Message-ID: <{digits}.{}>\r\n", message.from));
    }
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&content);
    bytes
}

/// Postfix 3.7.11 (measured through the client diff: a message handed to its `sendmail`, as
/// the server received it): `Received: by HOST (Postfix, from userid 0)` folded before `id
/// QUEUEID; DATE`, then the content's header, then `Message-Id: <STAMP.QUEUEID@HOST>` and
/// `Date:` where it has none, in Postfix's date style (`Fri,  4 Dec 2026 23:20:01 +0000
/// (UTC)`). Assumed: submitted by root (userid 0, as the diff runs); a queue id and time
/// stamp made from the send time and message number, so runs replay. A message Postfix
/// received over SMTP gets a `Received: from ...` line instead (not modelled).
fn postfix(message: &Message, helo: &str, unix_secs: u64) -> Vec<u8> {
    let content = canonical(&message.body);
    let date = rfc5322(unix_secs);
    // `Thu, 01 Jan` as Postfix writes it, `Thu,  1 Jan`, with the zone's name after.
    let date = match date.as_bytes().get(5) {
        Some(b'0') => format!("{} {} (UTC)", &date[..5], &date[6..]),
        _ => format!("{date} (UTC)"),
    };
    let queue_id = format!("{:05X}{:05X}", unix_secs & 0xF_FFFF, message.id & 0xF_FFFF);
    let has = |name: &str| header_names(&content).any(|h| h.eq_ignore_ascii_case(name));
    let mut added = String::new();
    if !has("Message-Id") {
        added.push_str(&format!("Message-Id: <{unix_secs}.{queue_id}@{helo}>\r\n"));
    }
    if !has("Date") {
        added.push_str(&format!("Date: {date}\r\n"));
    }
    let received =
        format!("Received: by {helo} (Postfix, from userid 0)\r\n\tid {queue_id}; {date}\r\n");
    let header_end = find_header_end(&content);
    let mut bytes = received.into_bytes();
    bytes.extend_from_slice(&content[..header_end]);
    bytes.extend_from_slice(added.as_bytes());
    bytes.extend_from_slice(&content[header_end..]);
    bytes
}

/// Where the header section of canonical `content` ends: the start of its empty line (the
/// end of the content when there is none).
fn find_header_end(content: &[u8]) -> usize {
    if content.starts_with(b"\r\n") {
        return 0;
    }
    content
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(content.len(), |i| i + 2)
}

/// The field names of the header section (the lines before the first empty one).
fn header_names(content: &[u8]) -> impl Iterator<Item = &str> {
    content
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with(b" ") && !l.starts_with(b"\t"))
        .filter_map(|l| std::str::from_utf8(l).ok()?.split_once(':').map(|(n, _)| n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> Message {
        Message {
            id: 0,
            from: "alice@example.org".into(),
            to: vec!["bob@example.org".into()],
            body: body.as_bytes().to_vec(),
            at: Default::default(),
        }
    }

    #[test]
    fn ssmtp_adds_received_and_the_missing_headers() {
        let out = stamped(Stamp::Ssmtp, &message("Subject: test\n\nhello\n"), "ws1", 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Received: by ws1 (sSMTP sendmail emulation); Thu, 01 Jan 1970 00:00:00 +0000\r\n\
             From: \"alice\" <alice@example.org>\r\n\
             Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n\
             Subject: test\r\n\r\nhello\r\n"
        );
        let kept = stamped(
            Stamp::Ssmtp,
            &message("from: me\nDate: x\n\nFrom: body line\n"),
            "ws1",
            0,
        );
        let text = String::from_utf8(kept).unwrap();
        assert_eq!(text.matches("From:").count(), 1, "{text}");
        assert_eq!(text.matches("Date:").count(), 1, "{text}");
        assert_eq!(stamped(Stamp::None, &message("x\n"), "ws1", 0), b"x\n");
        assert_eq!(
            String::from_utf8(stamped(
                Stamp::Postfix,
                &message("From: a\n\nbody\n"),
                "relay",
                1_796_413_278
            ))
            .unwrap(),
            "Received: by relay (Postfix, from userid 0)\r\n\
             \tid 3175E00000; Fri,  4 Dec 2026 19:41:18 +0000 (UTC)\r\n\
             From: a\r\n\
             Message-Id: <1796413278.3175E00000@relay>\r\n\
             Date: Fri,  4 Dec 2026 19:41:18 +0000 (UTC)\r\n\
             \r\nbody\r\n"
        );
        assert_eq!(
            String::from_utf8(stamped(Stamp::Msmtp, &message("From: a\n\nx\n"), "ws1", 0)).unwrap(),
            "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n\
             Message-ID: <00000000000000000000000000000000.alice@example.org>\r\n\
             From: a\r\n\r\nx\r\n"
        );
        assert_eq!(
            String::from_utf8(stamped(
                Stamp::Msmtp,
                &message("Date: d\nMessage-Id: <m>\n\nx\n"),
                "ws1",
                0
            ))
            .unwrap(),
            "From: alice@example.org\r\nDate: d\r\nMessage-Id: <m>\r\n\r\nx\r\n"
        );
        assert_eq!(
            stamped(Stamp::Swaks, &message("x\n"), "ws1", 0),
            b"x\r\n\r\n"
        );
    }
}
