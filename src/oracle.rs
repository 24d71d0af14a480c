//! The message ledger and its invariants: what the client, the interceptor and the server
//! each saw of every message, the verdict, and any violation (silent loss, duplicate,
//! corruption, delivery of a refused message).

use crate::proto::client::{Message, Outcome, Status};
use crate::proto::data::canonical;
use crate::proto::server::Delivery;
use std::fmt;

/// What became of a message, all views taken together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Accepted by the server once, intact, and the client knows.
    Delivered,
    /// Refused permanently; the client knows; nothing delivered.
    Bounced,
    /// Not delivered; the client knows it must retry.
    Deferred,
    /// Delivered once although the client never saw the 250 (RFC 1047's gap): a retry would duplicate it.
    DeliveredUnconfirmed,
    /// The client was told 250 but no server has it.
    Lost,
    /// Delivered more than once.
    Duplicated,
    /// Delivered more than once after a retry from RFC 1047's gap (no reply after '.'):
    /// allowed by SMTP, reported, not a violation.
    DuplicatedRfc1047,
    /// Delivered with different content or envelope.
    Corrupted,
    /// Delivered cut short: the content is a strict prefix of the message.
    Partial,
    /// Delivered although the client was told it failed.
    DeliveredDespiteFailure,
    /// Never sent.
    NotSent,
}

impl Verdict {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Bounced => "bounced",
            Verdict::Deferred => "deferred",
            Verdict::DeliveredUnconfirmed => "delivered-unconfirmed",
            Verdict::Lost => "lost",
            Verdict::Duplicated => "duplicated",
            Verdict::DuplicatedRfc1047 => "duplicated-rfc1047",
            Verdict::Corrupted => "corrupted",
            Verdict::Partial => "partial",
            Verdict::DeliveredDespiteFailure => "delivered-despite-failure",
            Verdict::NotSent => "not-sent",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The message (1-based in reports), if the invariant is about one.
    pub message: Option<usize>,
    /// The invariant's name, e.g. `silent-loss`.
    pub invariant: &'static str,
    /// What exactly happened.
    pub detail: String,
}

/// The three views of one message and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageReport {
    /// 0-based id.
    pub id: usize,
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// What the client was told.
    pub client: String,
    /// What the interceptor did to it (empty without one).
    pub interceptor: Vec<String>,
    /// What the server did with it.
    pub server: String,
    /// All together.
    pub verdict: Verdict,
}

/// The oracle's report for a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// One per message, in order.
    pub messages: Vec<MessageReport>,
    /// Every broken invariant.
    pub violations: Vec<Violation>,
}

impl Report {
    /// True if no invariant was broken.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Interceptor notes that matter for a message's story.
pub fn interceptor_story(notes: &[String]) -> Vec<String> {
    let keep = [
        "DATA held",
        "early ack",
        "releasing",
        "scanning",
        "verdict",
        "rewritten",
        "stripped",
        "masked",
        "split",
        "lost",
        "held (",
    ];
    let mut story: Vec<String> = Vec::new();
    for note in notes {
        if keep.iter().any(|k| note.contains(k)) && !story.contains(note) {
            story.push(note.clone());
        }
    }
    story
}

/// Builds the ledger and checks the invariants.
///
/// `outcomes` holds every attempt (the last one per message is final). `retrying`: the
/// client retries deferred mail, so a message still deferred at the end breaks liveness.
pub fn judge(
    messages: &[Message],
    outcomes: &[Outcome],
    deliveries: &[Delivery],
    interceptor_notes: &[Vec<String>],
    retrying: bool,
) -> Report {
    let mut report = Report::default();
    let same_envelope = |m: &Message, d: &Delivery| {
        d.mail_from == m.from && !d.rcpt_to.is_empty() && d.rcpt_to.iter().all(|r| m.to.contains(r))
    };
    let bodies: Vec<Vec<u8>> = messages.iter().map(|m| canonical(&m.body)).collect();
    // owner[i] = (message index, intact) for delivery i. Three passes so that one message's
    // extra copy or damaged copy never steals another message's good delivery: first one
    // intact copy each, then further intact copies, then damaged copies by envelope.
    let mut owner: Vec<Option<(usize, bool)>> = vec![None; deliveries.len()];
    for (mi, m) in messages.iter().enumerate() {
        if let Some(i) = (0..deliveries.len()).find(|&i| {
            owner[i].is_none()
                && same_envelope(m, &deliveries[i])
                && deliveries[i].body == bodies[mi]
        }) {
            owner[i] = Some((mi, true));
        }
    }
    for (mi, m) in messages.iter().enumerate() {
        for i in 0..deliveries.len() {
            if owner[i].is_none()
                && same_envelope(m, &deliveries[i])
                && deliveries[i].body == bodies[mi]
            {
                owner[i] = Some((mi, true));
            }
        }
    }
    for (mi, m) in messages.iter().enumerate() {
        for i in 0..deliveries.len() {
            if owner[i].is_none() && same_envelope(m, &deliveries[i]) {
                owner[i] = Some((mi, false));
            }
        }
    }
    for (mi, message) in messages.iter().enumerate() {
        let outcome = outcomes.iter().rev().find(|o| o.id == message.id);
        let mut intact = 0;
        let mut damaged = Vec::new();
        let mut ids = Vec::new();
        for (i, d) in deliveries.iter().enumerate() {
            match owner[i] {
                Some((m, good)) if m == mi => {
                    ids.push(d.queue_id.clone());
                    if good {
                        intact += 1;
                    } else {
                        damaged.push(d.queue_id.clone());
                    }
                }
                _ => {}
            }
        }
        let delivered = intact + damaged.len();
        let server = match delivered {
            0 => "nothing delivered".to_string(),
            1 if damaged.is_empty() => format!("delivered once as {} (content intact)", ids[0]),
            _ if damaged.is_empty() => format!("delivered {delivered} times as {}", ids.join(", ")),
            _ => format!(
                "delivered {delivered} times as {}; content differs in {}",
                ids.join(", "),
                damaged.join(", ")
            ),
        };
        let attempts = outcomes.iter().filter(|o| o.id == message.id).count();
        let client = match outcome {
            None => "never tried".to_string(),
            Some(o) if attempts > 1 => format!("{} (attempt {attempts})", describe_outcome(o)),
            Some(o) => describe_outcome(o),
        };
        let status = outcome.map(|o| o.status.clone());
        let in_gap = outcomes.iter().any(|o| o.id == message.id && o.in_sync_gap);
        let partial = deliveries.iter().zip(&owner).any(|(d, own)| {
            *own == Some((mi, false))
                && d.body.len() < bodies[mi].len()
                && bodies[mi].starts_with(&d.body)
        });
        let number = message.id + 1;
        let mut violate = |invariant: &'static str, detail: String| {
            report.violations.push(Violation {
                message: Some(number),
                invariant,
                detail,
            });
        };
        let verdict = if partial {
            violate(
                "partial-delivery",
                format!(
                    "message {number} delivered cut short ({})",
                    damaged.join(", ")
                ),
            );
            Verdict::Partial
        } else if !damaged.is_empty() {
            violate(
                "corruption",
                format!(
                    "message {number} delivered with altered content ({})",
                    damaged.join(", ")
                ),
            );
            Verdict::Corrupted
        } else if delivered > 1 {
            if in_gap {
                Verdict::DuplicatedRfc1047
            } else {
                violate(
                    "duplicate",
                    format!("message {number} delivered {delivered} times"),
                );
                Verdict::Duplicated
            }
        } else {
            match (status, delivered) {
                (Some(Status::Accepted), 1) => Verdict::Delivered,
                (Some(Status::Accepted), _) => {
                    violate("silent-loss", format!("message {number}: the client was told it was accepted, but no server has it"));
                    Verdict::Lost
                }
                (Some(Status::Rejected), 0) => Verdict::Bounced,
                (Some(Status::Deferred | Status::NotAttempted), 0) if retrying => {
                    violate("liveness", format!("message {number} was still not delivered when the client gave up: {client}"));
                    Verdict::Deferred
                }
                (Some(Status::Deferred), 0) => Verdict::Deferred,
                (Some(Status::NotAttempted) | None, 0) => Verdict::NotSent,
                (_, _) if in_gap => Verdict::DeliveredUnconfirmed,
                (_, _) => {
                    violate(
                        "delivered-despite-failure",
                        format!("message {number} was delivered but the client was told: {client}"),
                    );
                    Verdict::DeliveredDespiteFailure
                }
            }
        };
        report.messages.push(MessageReport {
            id: message.id,
            from: message.from.clone(),
            to: message.to.clone(),
            client,
            interceptor: interceptor_notes
                .get(message.id)
                .map(|n| interceptor_story(n))
                .unwrap_or_default(),
            server,
            verdict,
        });
    }
    for (i, d) in deliveries.iter().enumerate() {
        if owner[i].is_none() {
            report.violations.push(Violation {
                message: None,
                invariant: "unexpected-delivery",
                detail: format!(
                    "{} delivered <{}> -> {:?}, which no client message matches",
                    d.queue_id, d.mail_from, d.rcpt_to
                ),
            });
        }
    }
    report
}

/// One line: what the client was told about a message.
pub fn describe_outcome(o: &Outcome) -> String {
    let status = match o.status {
        Status::Accepted => "accepted",
        Status::Rejected => "rejected",
        Status::Deferred => "deferred",
        Status::NotAttempted => "not attempted",
    };
    let mut text = format!("{status} at {}", o.stage.name());
    if let Some(reply) = &o.reply {
        text.push_str(&format!(": {reply}"));
    }
    if let Some(reason) = &o.reason {
        text.push_str(&format!(" ({reason})"));
    }
    if o.in_sync_gap {
        text.push_str(" [no reply after '.': RFC 1047 gap]");
    }
    for (rcpt, reply) in &o.refused {
        text.push_str(&format!("; refused <{rcpt}>: {reply}"));
    }
    text
}
