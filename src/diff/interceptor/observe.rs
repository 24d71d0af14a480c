//! What one run of an interceptor behaviour showed, from both ends: the server's side as
//! `diff --client` reads it (commands as they arrived, grouped; copies; the client's outcome),
//! and the client's side: every reply it got, its text normalised, with its timing class
//! (whether it came a second or more after the client's last write: a scan, a delay). And how
//! two observations differ.

use crate::diff::client::observe::{self as server, Difference, Outcome};
use crate::proto::client::Status;
use crate::transcript::{Event, EventKind};
use std::time::Duration;

/// A reply this long after the client's last write (or its connect) is `late`.
pub const LATE: Duration = Duration::from_secs(1);

/// One run, seen from both ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The server's side and the client's outcome.
    pub server: server::Observation,
    /// The replies the client got, in order (`late` marked).
    pub replies: Vec<String>,
}

/// The client's outcome from its outcomes: delivered when the message's last one was
/// accepted (the profiles compared have no queue).
pub fn outcome(outcomes: &[crate::proto::client::Outcome]) -> Outcome {
    match outcomes.iter().rev().find(|o| o.id == 0).map(|o| &o.status) {
        Some(Status::Accepted) => Outcome::Delivered,
        _ => Outcome::Failed,
    }
}

/// Reads both ends of `events` (the client's and the server's, one log or two).
pub fn observe(events: &[Event], outcome: Outcome) -> Observation {
    Observation {
        server: server::observe(events, outcome),
        replies: replies(events),
    }
}

/// The replies the client got, each as `CODE text` (lines joined by ` / `).
fn replies(events: &[Event]) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut last_write = Duration::ZERO;
    let mut first_byte: Option<Duration> = None;
    for e in events {
        match &e.kind {
            EventKind::Connect if e.from == "client" => {
                last_write = e.at;
            }
            EventKind::Data(_) if e.from == "client" => last_write = e.at,
            EventKind::Received(bytes) if e.to == "client" => {
                pending.extend_from_slice(bytes);
                first_byte.get_or_insert(e.at);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    let last = line.as_bytes().get(3) != Some(&b'-');
                    lines.push(normalise(&line));
                    if last {
                        let at = first_byte.take().unwrap_or(e.at);
                        let mut reply = lines.join(" / ");
                        lines.clear();
                        if at.saturating_sub(last_write) >= LATE {
                            reply.push_str(" (late)");
                        }
                        out.push(reply);
                        if !pending.is_empty() {
                            first_byte = Some(e.at);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A reply line with what differs between runs normalised: a queue id.
fn normalise(line: &str) -> String {
    match line.find("queued as ") {
        Some(i) => format!("{}queued as <id>", &line[..i]),
        None => line.to_string(),
    }
}

impl Observation {
    /// The lines a difference is shown as: the server's side, then what the client got.
    pub fn lines(&self) -> Vec<(String, String)> {
        let mut out = self.server.lines();
        out.push((
            "client got".to_string(),
            if self.replies.is_empty() {
                "nothing".into()
            } else {
                self.replies.join(" | ")
            },
        ));
        out
    }
}

/// Every way two observations differ: the server's side as `diff --client` compares it, then
/// the first reply the client got that differs (`reply: ...`, or `timing: ...` when only its
/// timing class does).
pub fn compare(real: &Observation, sim: &Observation) -> Vec<Difference> {
    let mut kinds: Vec<String> = server::compare(&real.server, &sim.server)
        .into_iter()
        .map(|d| d.kind)
        .collect();
    let n = real.replies.len().max(sim.replies.len());
    if let Some(i) = (0..n).find(|&i| real.replies.get(i) != sim.replies.get(i)) {
        let (r, s) = (real.replies.get(i), sim.replies.get(i));
        let bare = |x: Option<&String>| x.map(|x| x.trim_end_matches(" (late)").to_string());
        let show = |x: Option<&String>| x.cloned().unwrap_or_else(|| "<nothing>".into());
        kinds.push(if r.is_some() && bare(r) == bare(s) {
            format!("timing: real {} / profile {}", show(r), show(s))
        } else {
            format!("reply: real {} / profile {}", show(r), show(s))
        });
    }
    Difference::each(kinds, real.lines(), sim.lines())
}
