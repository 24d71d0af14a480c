//! The message ledger and its invariants: what the client, the interceptor and the server
//! each saw of every message, the verdict, and any violation (silent loss, duplicate,
//! corruption, delivery of a refused message).
//!
//! A message sent in BDAT chunks (RFC 3030) is judged as one sent with DATA: the server's
//! copy must be the same content (the chunks carry it as it is, DATA carries it dot-stuffed),
//! once; `BDAT n LAST` is its end of data, so only after it does a silence put the client in
//! RFC 1047's gap; chunks without their LAST are never a delivery (`partial` if they were).
//!
//! - [`ledger`]: who holds which copy, what the client was told per recipient, the verdicts;
//! - [`change`]: what changed in a copy that differs from what the client sent;
//! - [`mod@tls`]: the TLS invariants;
//! - `dkim`: whether a signed message's signature still verifies on the server's copies;
//! - [`mod@stuck`]: the liveness violation of a run stopped by its time limit.

pub mod change;
mod dkim;
mod ledger;
mod stuck;
mod tls;

pub use dkim::judge_dkim;
pub use ledger::{address_key, judge};
pub use stuck::{stuck, STUCK};
pub use tls::judge_tls;

use crate::proto::client::{Outcome, Stage, Status};
use std::fmt;

/// What became of a message, all views taken together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Accepted by the server once, intact, and the client knows.
    Delivered,
    /// Refused permanently; the client knows; nothing delivered.
    Bounced,
    /// Not delivered; still in the client's queue with a next attempt.
    Deferred,
    /// Not delivered; a client without a queue gave up and told its caller (an exit status,
    /// an exception): a reported failure, not a loss.
    Failed,
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
    /// Delivered once, intact, but in plaintext on some hop although the server offers
    /// STARTTLS and the client would have used it (a middlebox stripped or refused it):
    /// reported, a violation only when the client's policy required TLS.
    Downgraded,
}

impl Verdict {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Bounced => "bounced",
            Verdict::Deferred => "deferred",
            Verdict::Failed => "failed",
            Verdict::DeliveredUnconfirmed => "delivered-unconfirmed",
            Verdict::Lost => "lost",
            Verdict::Duplicated => "duplicated",
            Verdict::DuplicatedRfc1047 => "duplicated-rfc1047",
            Verdict::Corrupted => "corrupted",
            Verdict::Partial => "partial",
            Verdict::DeliveredDespiteFailure => "delivered-despite-failure",
            Verdict::NotSent => "not-sent",
            Verdict::Downgraded => "downgraded",
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
    /// All together: the recipients' verdict when they agree, else the gravest of them.
    pub verdict: Verdict,
    /// Each recipient's own verdict, in envelope order.
    pub recipients: Vec<RecipientReport>,
    /// With `[dkim]`: whether the signature verifies on each server copy.
    pub dkim: Option<String>,
}

/// What became of one recipient of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    /// The address as the client wrote it.
    pub address: String,
    /// Its verdict.
    pub verdict: Verdict,
}

impl MessageReport {
    /// True when the recipients' verdicts differ (reports then list them).
    pub fn mixed(&self) -> bool {
        self.recipients.iter().any(|r| r.verdict != self.verdict)
    }
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
        "unscanned",
        "dropped",
        "blocked",
        "refused",
        "signature",
        "tagged",
        "appended",
    ];
    let mut story: Vec<String> = Vec::new();
    for note in notes {
        if keep.iter().any(|k| note.contains(k)) && !story.contains(note) {
            story.push(note.clone());
        }
    }
    story
}

/// One line: what the client was told about a message.
pub fn describe_outcome(o: &Outcome) -> String {
    let status = match o.status {
        Status::Accepted => "accepted",
        Status::Rejected => "rejected",
        Status::Deferred => "deferred",
        Status::NotAttempted => "not attempted",
    };
    let mut text = match o.stage {
        Stage::Unknown => status.to_string(),
        stage => format!("{status} at {}", stage.name()),
    };
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
