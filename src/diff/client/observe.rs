//! What one run of a behaviour showed, read from the server's side of the transcript (the
//! same events live and simulated): per connection the commands as they arrived, grouped by
//! the server's replies (commands that came in before the server's next write are one group:
//! a pipelined MAIL, RCPT and DATA, a QUIT sent straight after `.`), whether `.` came on its
//! own after a pause, the shape of each message's content as it came, the copies the server
//! holds, and the sender's outcome; and how two observations differ.

use crate::transcript::{Event, EventKind};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A `.` that arrives this long after the content before it came in its own write, after
/// a pause (ssmtp sleeps a second before it).
pub const DOT_PAUSE: Duration = Duration::from_millis(500);

/// What became of the message, as the sender's user or queue sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Handed over; the program reports success.
    Delivered,
    /// Still queued: the program (its queue) will try again.
    Deferred,
    /// Given up on and returned to the sender (a bounce).
    Bounced,
    /// Not handed over; the program exits with an error (its caller is told) and keeps nothing.
    Failed,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Delivered => "delivered",
            Outcome::Deferred => "deferred",
            Outcome::Bounced => "bounced",
            Outcome::Failed => "failed-and-told",
        })
    }
}

/// One run, seen from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Per connection, its groups of normalised commands.
    pub connections: Vec<Vec<Vec<String>>>,
    /// Per copy the server holds, its recipients.
    pub copies: Vec<Vec<String>>,
    /// The sender's outcome.
    pub outcome: Outcome,
    /// Delivery status notifications the program sent back through the server (`MAIL
    /// FROM:<>`): left out of the connections and copies, shown beside them.
    pub notifications: usize,
    /// The content of each DATA the program ended with `.`, in the order sent, as
    /// [`content_shape`] reads it.
    pub contents: Vec<Vec<String>>,
}

/// The content of a message as sent (dot-stuffing included), with what differs between runs
/// left out: each header field as its name alone (`Received:`; continuation lines dropped,
/// as programs fold differently), then the empty line and every body line as it came.
pub fn content_shape(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_header = true;
    for line in lines {
        if in_header {
            if line.is_empty() {
                in_header = false;
                out.push(String::new());
            } else if !line.starts_with([' ', '\t']) {
                let name = line.split_once(':').map_or(line.as_str(), |(n, _)| n);
                out.push(format!("{}:", name.to_ascii_lowercase()));
            }
        } else {
            out.push(line.clone());
        }
    }
    out
}

#[derive(Default)]
struct Conn {
    pending: Vec<u8>,
    in_data: bool,
    content_at: Option<Duration>,
    groups: Vec<Vec<String>>,
    current: Vec<String>,
    notification: bool,
    copies: Vec<Vec<String>>,
    content: Vec<String>,
    contents: Vec<Vec<String>>,
}

impl Conn {
    fn close_group(&mut self) {
        if !self.current.is_empty() {
            self.groups.push(std::mem::take(&mut self.current));
        }
    }

    fn read(&mut self, at: Duration, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if self.in_data {
                if line == "." {
                    self.in_data = false;
                    let content = std::mem::take(&mut self.content);
                    self.contents.push(content_shape(&content));
                    let paused = self
                        .content_at
                        .is_some_and(|before| at.saturating_sub(before) >= DOT_PAUSE);
                    self.current
                        .push(if paused { ". (after a pause)" } else { "." }.into());
                } else {
                    self.content_at = Some(at);
                    self.content.push(line.to_string());
                }
                continue;
            }
            let command = normalise(line);
            if command == "MAIL FROM:<>" || command.starts_with("MAIL FROM:<> ") {
                self.notification = true;
            }
            self.current.push(command);
        }
        if self.in_data && !bytes.is_empty() {
            self.content_at = Some(at);
        }
    }

    fn wrote(&mut self, bytes: &[u8]) {
        self.close_group();
        // Pipelined replies may come in one write: 354 is the last line of it.
        if bytes.starts_with(b"354") || bytes.windows(5).any(|w| w == b"\n354 ") {
            self.in_data = true;
            self.content_at = None;
            self.content.clear();
        }
    }
}

/// Reads the server's side of `events`; `outcome` is the sender's.
pub fn observe(events: &[Event], outcome: Outcome) -> Observation {
    let mut conns: BTreeMap<u32, Conn> = BTreeMap::new();
    for e in events {
        match &e.kind {
            EventKind::Received(bytes) if e.to == "server" => {
                conns.entry(e.conn).or_default().read(e.at, bytes)
            }
            EventKind::Data(bytes) if e.from == "server" => {
                conns.entry(e.conn).or_default().wrote(bytes)
            }
            EventKind::Delivered { rcpt_to, .. } => conns
                .entry(e.conn)
                .or_default()
                .copies
                .push(rcpt_to.clone()),
            _ => {}
        }
    }
    let mut obs = Observation {
        connections: Vec::new(),
        copies: Vec::new(),
        outcome,
        notifications: 0,
        contents: Vec::new(),
    };
    for (_, mut c) in conns {
        c.close_group();
        if c.notification {
            obs.notifications += 1;
            continue;
        }
        obs.copies.extend(c.copies);
        obs.contents.extend(c.contents);
        obs.connections.push(c.groups);
    }
    obs
}

/// A command line with the names that differ between runs normalised: the verb and
/// `FROM:`/`TO:` and parameter names upper-case, the HELO/EHLO name as `<name>`, SIZE's
/// value as `*` (programs add different headers).
pub fn normalise(line: &str) -> String {
    let mut words = line.split(' ');
    let verb = words.next().unwrap_or("").to_ascii_uppercase();
    let rest: Vec<&str> = words.filter(|w| !w.is_empty()).collect();
    match verb.as_str() {
        "HELO" | "EHLO" if rest.is_empty() => verb,
        "HELO" | "EHLO" => format!("{verb} <name>"),
        "MAIL" | "RCPT" => {
            let mut out = vec![verb];
            for (i, w) in rest.iter().enumerate() {
                let (name, value) = w.split_once([':', '=']).unwrap_or((w, ""));
                let sep = if i == 0 && w.contains(':') { ":" } else { "=" };
                let value = if name.eq_ignore_ascii_case("SIZE") {
                    "*"
                } else {
                    value
                };
                if w.contains([':', '=']) {
                    out.push(format!("{}{sep}{value}", name.to_ascii_uppercase()));
                } else {
                    out.push(w.to_string());
                }
            }
            out.join(" ")
        }
        _ if rest.is_empty() => verb,
        _ => format!("{verb} {}", rest.join(" ")),
    }
}

impl Observation {
    /// The lines a difference is read from (and shown as).
    pub fn lines(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("outcome".to_string(), self.outcome.to_string()),
            ("attempts".to_string(), self.connections.len().to_string()),
        ];
        for (i, groups) in self.connections.iter().enumerate() {
            let text: Vec<String> = groups.iter().map(|g| g.join(" + ")).collect();
            let text = if text.is_empty() {
                "(connected, sent no command)".to_string()
            } else {
                text.join(" | ")
            };
            out.push((format!("connection {}", i + 1), text));
        }
        for (i, content) in self.contents.iter().enumerate() {
            let text: Vec<&str> = content
                .iter()
                .map(|l| if l.is_empty() { "<empty>" } else { l.as_str() })
                .collect();
            out.push((format!("content {}", i + 1), text.join(" | ")));
        }
        let copies: Vec<String> = self.copies.iter().map(|c| c.join(",")).collect();
        out.push((
            "copies".to_string(),
            if copies.is_empty() {
                "none".into()
            } else {
                format!("{} ({})", copies.len(), copies.join("; "))
            },
        ));
        out
    }
}

/// One way `real` and `sim` differ, as a kind (the same for every behaviour that shows it)
/// and the two sides in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// E.g. `commands: real HELO <name> / profile EHLO <name>`.
    pub kind: String,
    /// Every line of the real program's side.
    pub real: Vec<(String, String)>,
    /// The profile's.
    pub sim: Vec<(String, String)>,
}

/// Every way two observations differ: the outcome; with the same outcome, the attempts and
/// the copies; and the commands (the first group that differs on any attempt both made).
pub fn compare(real: &Observation, sim: &Observation) -> Vec<Difference> {
    let mut kinds = Vec::new();
    let same_outcome = real.outcome == sim.outcome;
    if !same_outcome {
        kinds.push(format!(
            "outcome: real {} / profile {}",
            real.outcome, sim.outcome
        ));
    }
    if same_outcome && real.connections.len() != sim.connections.len() {
        kinds.push(format!(
            "attempts: real {} / profile {}",
            real.connections.len(),
            sim.connections.len()
        ));
    }
    if let Some((a, b)) = real
        .connections
        .iter()
        .zip(&sim.connections)
        .find(|(a, b)| a != b)
    {
        kinds.push(commands_kind(a, b));
    }
    if same_outcome && real.copies != sim.copies {
        let show = |c: &[Vec<String>]| {
            let each: Vec<String> = c.iter().map(|r| r.join(",")).collect();
            format!("{} [{}]", c.len(), each.join("; "))
        };
        kinds.push(format!(
            "copies: real {} / profile {}",
            show(&real.copies),
            show(&sim.copies)
        ));
    }
    if let Some(kind) = content_kind(&real.contents, &sim.contents) {
        kinds.push(kind);
    }
    Difference::each(kinds, real.lines(), sim.lines())
}

impl Difference {
    /// One difference per kind, each with both sides' lines in full.
    pub fn each(
        kinds: Vec<String>,
        real: Vec<(String, String)>,
        sim: Vec<(String, String)>,
    ) -> Vec<Difference> {
        kinds
            .into_iter()
            .map(|kind| Difference {
                kind,
                real: real.clone(),
                sim: sim.clone(),
            })
            .collect()
    }
}

/// The kind of a difference in one attempt's commands: the first command that differs
/// (`command: ...`), or, when the commands are the same, how they were grouped
/// (`grouping: ...`, verbs only). Addresses are left out: the kind is the same whichever
/// recipient shows it.
fn commands_kind(real: &[Vec<String>], sim: &[Vec<String>]) -> String {
    let flat = |c: &[Vec<String>]| c.concat();
    let (r, s) = (flat(real), flat(sim));
    let show = |c: Option<&String>| c.map_or("<nothing>".to_string(), |c| addressless(c));
    if let Some(i) = (0..r.len().max(s.len())).find(|&i| r.get(i) != s.get(i)) {
        return format!(
            "command: real {} / profile {}",
            show(r.get(i)),
            show(s.get(i))
        );
    }
    let (r, s) = (shapes(real), shapes(sim));
    let at = (0..r.len().max(s.len()))
        .find(|&i| r.get(i) != s.get(i))
        .unwrap_or(0);
    let show = |g: Option<&String>| g.cloned().unwrap_or_else(|| "<nothing>".into());
    format!(
        "grouping: real {} / profile {}",
        show(r.get(at)),
        show(s.get(at))
    )
}

/// The kind of a difference in content: the first line that differs in the first message
/// both sides sent whose contents differ (`content: real received: / profile from:`).
fn content_kind(real: &[Vec<String>], sim: &[Vec<String>]) -> Option<String> {
    let (a, b) = real.iter().zip(sim).find(|(a, b)| a != b)?;
    let at = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))?;
    let show = |l: Option<&String>| match l.map(String::as_str) {
        None => "<end of content>".to_string(),
        Some("") => "<empty line>".to_string(),
        Some(l) => l.to_string(),
    };
    Some(format!(
        "content line {}: real {} / profile {}",
        at + 1,
        show(a.get(at)),
        show(b.get(at))
    ))
}

/// Each group as its verbs joined by `+`, a run of the same verb once (`MAIL+RCPT+DATA`).
fn shapes(groups: &[Vec<String>]) -> Vec<String> {
    groups
        .iter()
        .map(|g| {
            let mut verbs: Vec<&str> = g
                .iter()
                .map(|c| c.split(' ').next().unwrap_or(""))
                .collect();
            verbs.dedup();
            verbs.join("+")
        })
        .collect()
}

/// `cmd` with every `<address>` as `<addr>` and ORCPT's address as `addr`.
fn addressless(cmd: &str) -> String {
    cmd.split(' ')
        .map(|w| {
            if let Some((name, _)) = w.split_once(":<") {
                format!("{name}:<addr>")
            } else if let Some((name, _)) = w.split_once(";") {
                format!("{name};addr")
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes_are_normalised() {
        assert_eq!(normalise("ehlo host.example"), "EHLO <name>");
        assert_eq!(normalise("HELO"), "HELO");
        assert_eq!(
            normalise("mail FROM:<a@b> size=123"),
            "MAIL FROM:<a@b> SIZE=*"
        );
        assert_eq!(
            normalise("RCPT TO:<a@b> ORCPT=rfc822;a@b"),
            "RCPT TO:<a@b> ORCPT=rfc822;a@b"
        );
        assert_eq!(normalise("quit"), "QUIT");
    }

    #[test]
    fn content_keeps_header_names_and_the_body_as_sent() {
        let lines: Vec<String> = [
            "Received: by ws1 (sSMTP sendmail emulation);",
            "\tFri, 04 Dec 2026 23:10:00 +0000",
            "From: alice@example.org",
            "",
            "..stuffed",
            "",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            content_shape(&lines),
            ["received:", "from:", "", "..stuffed", ""]
        );
        let a = vec![content_shape(&lines)];
        let b = vec![content_shape(&lines[2..])];
        assert_eq!(
            content_kind(&a, &b).as_deref(),
            Some("content line 1: real received: / profile from:")
        );
        assert_eq!(content_kind(&a, &a), None);
        let short = vec![content_shape(&lines[..5])];
        assert_eq!(
            content_kind(&a, &short).as_deref(),
            Some("content line 5: real <empty line> / profile <end of content>")
        );
    }

    #[test]
    fn kinds_leave_addresses_and_repeats_out() {
        let g = |groups: &[&[&str]]| -> Vec<Vec<String>> {
            groups
                .iter()
                .map(|g| g.iter().map(|c| c.to_string()).collect())
                .collect()
        };
        let piped = g(&[
            &["EHLO <name>"],
            &["MAIL FROM:<a@b>", "RCPT TO:<c@d>", "RCPT TO:<e@f>", "DATA"],
            &["."],
        ]);
        let lock = g(&[
            &["EHLO <name>"],
            &["MAIL FROM:<a@b>"],
            &["RCPT TO:<c@d>"],
            &["RCPT TO:<e@f>"],
            &["DATA"],
            &["."],
        ]);
        assert_eq!(
            commands_kind(&piped, &lock),
            "grouping: real MAIL+RCPT+DATA / profile MAIL"
        );
        let orcpt = g(&[&["RCPT TO:<c@d> ORCPT=rfc822;c@d"]]);
        let plain = g(&[&["RCPT TO:<c@d>"]]);
        assert_eq!(
            commands_kind(&orcpt, &plain),
            "command: real RCPT TO:<addr> ORCPT=rfc822;addr / profile RCPT TO:<addr>"
        );
    }
}
