//! The message ledger and its invariants: what the client, the interceptor and the server
//! each saw of every message, the verdict, and any violation (silent loss, duplicate,
//! corruption, delivery of a refused message).
//!
//! A message sent in BDAT chunks (RFC 3030) is judged as one sent with DATA: the server's
//! copy must be the same content (the chunks carry it as it is, DATA carries it dot-stuffed),
//! once; `BDAT n LAST` is its end of data, so only after it does a silence put the client in
//! RFC 1047's gap; chunks without their LAST are never a delivery (`partial` if they were).

use crate::proto::client::TlsPolicy;
use crate::proto::client::{Message, Outcome, Status};
use crate::proto::data::canonical;
use crate::proto::server::Delivery;
use crate::transcript::{Event, EventKind, Layer, TlsEvent};
use std::fmt;
use std::time::Duration;

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
        "unscanned",
    ];
    let mut story: Vec<String> = Vec::new();
    for note in notes {
        if keep.iter().any(|k| note.contains(k)) && !story.contains(note) {
            story.push(note.clone());
        }
    }
    story
}

/// The TLS invariants, read off the transcript and applied to `report`: a command sent in
/// plaintext before a TLS handshake that the server then ran inside TLS (CVE-2011-0411)
/// breaks `tls-injection`; a delivered message whose envelope crossed a hop in plaintext is
/// `downgraded` when the server offered STARTTLS and the client's policy is opportunistic,
/// and breaks `tls-required` when the policy required TLS.
pub fn judge_tls(report: &mut Report, events: &[Event], policy: TlsPolicy) {
    for e in events {
        if let EventKind::Tls(TlsEvent::Injected {
            bytes,
            executed: true,
        }) = &e.kind
        {
            report.violations.push(Violation {
                message: None,
                invariant: "tls-injection",
                detail: format!(
                    "the {} on c{} ran commands sent in plaintext before the TLS handshake as if \
                     they came inside TLS (CVE-2011-0411): {:?}",
                    e.from,
                    e.conn,
                    String::from_utf8_lossy(bytes)
                ),
            });
        }
    }
    if policy == TlsPolicy::None {
        return;
    }
    let offered = events.iter().any(|e| {
        e.from == "server"
            && matches!(&e.kind, EventKind::Data(bytes) if String::from_utf8_lossy(bytes)
                .lines()
                .any(|l| l.trim_end().eq_ignore_ascii_case("250-STARTTLS")
                    || l.trim_end().eq_ignore_ascii_case("250 STARTTLS")))
    });
    for m in &mut report.messages {
        let delivered = matches!(
            m.verdict,
            Verdict::Delivered | Verdict::DeliveredUnconfirmed | Verdict::DuplicatedRfc1047
        );
        if !delivered {
            continue;
        }
        let hops = plaintext_hops(events, &m.from);
        if hops.is_empty() {
            continue;
        }
        let hops = hops.join(", ");
        if policy.required() {
            report.violations.push(Violation {
                message: Some(m.id + 1),
                invariant: "tls-required",
                detail: format!(
                    "message {} crossed {hops} in plaintext although the client's policy \
                     ({}) requires TLS",
                    m.id + 1,
                    policy.name()
                ),
            });
        } else if offered && m.verdict == Verdict::Delivered {
            m.verdict = Verdict::Downgraded;
            m.server.push_str(&format!(
                "; in plaintext on {hops} although the server offers STARTTLS"
            ));
        }
    }
}

/// The hops (`c1 client->interceptor`) on which `MAIL FROM:<from>` was written in the clear.
fn plaintext_hops(events: &[Event], from: &str) -> Vec<String> {
    let mail = format!("mail from:<{}>", from.to_ascii_lowercase());
    let mut hops: Vec<String> = Vec::new();
    for e in events {
        let EventKind::Data(bytes) = &e.kind else {
            continue;
        };
        if e.layer != Layer::Plain || e.from == "server" {
            continue;
        }
        let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
        if text.lines().any(|l| l.starts_with(&mail)) {
            let hop = format!("c{} {}->{}", e.conn, e.from, e.to);
            if !hops.contains(&hop) {
                hops.push(hop);
            }
        }
    }
    hops
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
    let bodies: Vec<Vec<u8>> = messages.iter().map(|m| canonical(&m.body)).collect();
    let owner = assign_deliveries(messages, &bodies, deliveries);
    for (mi, message) in messages.iter().enumerate() {
        let copies = Copies::of(mi, deliveries, &owner);
        let partial = deliveries.iter().zip(&owner).any(|(d, own)| {
            *own == Some((mi, false))
                && d.body.len() < bodies[mi].len()
                && bodies[mi].starts_with(&d.body)
        });
        let client = ClientView::of(message, outcomes);
        let number = message.id + 1;
        let (verdict, broken) = decide(number, &copies, &client, partial, retrying);
        if let Some((invariant, detail)) = broken {
            report.violations.push(Violation {
                message: Some(number),
                invariant,
                detail,
            });
        }
        report.messages.push(MessageReport {
            id: message.id,
            from: message.from.clone(),
            to: message.to.clone(),
            client: client.text,
            interceptor: interceptor_notes
                .get(message.id)
                .map(|n| interceptor_story(n))
                .unwrap_or_default(),
            server: copies.text(),
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

/// Which message each delivery is a copy of, and whether intact: `owner[i] = (message,
/// intact)`. Three passes so that one message's extra or damaged copy never steals another
/// message's good delivery: first one intact copy each, then further intact copies, then
/// damaged copies by envelope.
fn assign_deliveries(
    messages: &[Message],
    bodies: &[Vec<u8>],
    deliveries: &[Delivery],
) -> Vec<Option<(usize, bool)>> {
    let same_envelope = |m: &Message, d: &Delivery| {
        d.mail_from == m.from && !d.rcpt_to.is_empty() && d.rcpt_to.iter().all(|r| m.to.contains(r))
    };
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
    owner
}

/// The server's copies of one message.
struct Copies {
    intact: usize,
    damaged: Vec<String>,
    ids: Vec<String>,
}

impl Copies {
    fn of(mi: usize, deliveries: &[Delivery], owner: &[Option<(usize, bool)>]) -> Copies {
        let mut copies = Copies {
            intact: 0,
            damaged: Vec::new(),
            ids: Vec::new(),
        };
        for (i, d) in deliveries.iter().enumerate() {
            match owner[i] {
                Some((m, good)) if m == mi => {
                    copies.ids.push(d.queue_id.clone());
                    if good {
                        copies.intact += 1;
                    } else {
                        copies.damaged.push(d.queue_id.clone());
                    }
                }
                _ => {}
            }
        }
        copies
    }

    fn count(&self) -> usize {
        self.intact + self.damaged.len()
    }

    /// The server's view, for the report.
    fn text(&self) -> String {
        let delivered = self.count();
        let ids = self.ids.join(", ");
        match delivered {
            0 => "nothing delivered".to_string(),
            1 if self.damaged.is_empty() => {
                format!("delivered once as {} (content intact)", self.ids[0])
            }
            _ if self.damaged.is_empty() => format!("delivered {delivered} times as {ids}"),
            _ => format!(
                "delivered {delivered} times as {ids}; content differs in {}",
                self.damaged.join(", ")
            ),
        }
    }
}

/// What the client was told about one message.
struct ClientView {
    text: String,
    status: Option<Status>,
    /// Some attempt sent the final '.' and got no reply.
    in_gap: bool,
}

impl ClientView {
    fn of(message: &Message, outcomes: &[Outcome]) -> ClientView {
        let outcome = outcomes.iter().rev().find(|o| o.id == message.id);
        let attempts = outcomes.iter().filter(|o| o.id == message.id).count();
        let text = match outcome {
            None => "never tried".to_string(),
            Some(o) if attempts > 1 => format!("{} (attempt {attempts})", describe_outcome(o)),
            Some(o) => describe_outcome(o),
        };
        ClientView {
            text,
            status: outcome.map(|o| o.status.clone()),
            in_gap: outcomes.iter().any(|o| o.id == message.id && o.in_sync_gap),
        }
    }
}

/// The verdict on message `n`, and the invariant it breaks with the detail, if any.
fn decide(
    n: usize,
    copies: &Copies,
    client: &ClientView,
    partial: bool,
    retrying: bool,
) -> (Verdict, Option<(&'static str, String)>) {
    let delivered = copies.count();
    let damaged = copies.damaged.join(", ");
    if partial {
        let detail = format!("message {n} delivered cut short ({damaged})");
        return (Verdict::Partial, Some(("partial-delivery", detail)));
    }
    if !copies.damaged.is_empty() {
        let detail = format!("message {n} delivered with altered content ({damaged})");
        return (Verdict::Corrupted, Some(("corruption", detail)));
    }
    if delivered > 1 {
        if client.in_gap {
            return (Verdict::DuplicatedRfc1047, None);
        }
        let detail = format!("message {n} delivered {delivered} times");
        return (Verdict::Duplicated, Some(("duplicate", detail)));
    }
    let told = &client.text;
    match (&client.status, delivered) {
        (Some(Status::Accepted), 1) => (Verdict::Delivered, None),
        (Some(Status::Accepted), _) => (
            Verdict::Lost,
            Some((
                "silent-loss",
                format!("message {n}: the client was told it was accepted, but no server has it"),
            )),
        ),
        (Some(Status::Rejected), 0) => (Verdict::Bounced, None),
        (Some(Status::Deferred | Status::NotAttempted), 0) if retrying => (
            Verdict::Deferred,
            Some((
                "liveness",
                format!("message {n} was still not delivered when the client gave up: {told}"),
            )),
        ),
        (Some(Status::Deferred), 0) => (Verdict::Deferred, None),
        (Some(Status::NotAttempted) | None, 0) => (Verdict::NotSent, None),
        (_, _) if client.in_gap => (Verdict::DeliveredUnconfirmed, None),
        (_, _) => (
            Verdict::DeliveredDespiteFailure,
            Some((
                "delivered-despite-failure",
                format!("message {n} was delivered but the client was told: {told}"),
            )),
        ),
    }
}

/// How the detail of a stuck run's `liveness` violation starts (a message a retrying client
/// gave up on breaks liveness too, with another detail).
pub const STUCK: &str = "the time limit";

/// The `liveness` violation of a run that reached its time limit at `at` before its client
/// was done: who waits for whom on each connection still open, read off the transcript.
pub fn stuck(at: Duration, events: &[Event]) -> Violation {
    #[derive(Default)]
    struct Conn<'a> {
        /// Sides that closed or saw the connection fail.
        ended: Vec<&'a str>,
        /// The last write: who, to whom, its first line, when.
        last: Option<(&'a str, &'a str, String, Duration)>,
        /// Who connected to whom.
        ends: Option<(&'a str, &'a str, Duration)>,
    }
    let mut conns: std::collections::BTreeMap<u32, Conn> = Default::default();
    for e in events.iter().filter(|e| e.conn != 0) {
        let conn = conns.entry(e.conn).or_default();
        match &e.kind {
            EventKind::Connect => conn.ends = Some((&e.from, &e.to, e.at)),
            EventKind::Data(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let line = text.lines().next().unwrap_or("").trim_end().to_string();
                conn.last = Some((&e.from, &e.to, line, e.at));
            }
            EventKind::Close | EventKind::Reset(_) => conn.ended.push(&e.from),
            _ => {}
        }
    }
    let waits: Vec<String> = conns
        .iter()
        .filter(|(_, c)| c.ended.len() < 2)
        .map(|(n, c)| match (&c.last, c.ends) {
            (Some((from, to, line, when)), _) => format!(
                "{from} waits for {to} after `{line}` on c{n} (since {:.3}s)",
                when.as_secs_f64()
            ),
            (None, Some((client, server, when))) => format!(
                "{client} waits for {server}'s banner on c{n} (since {:.3}s)",
                when.as_secs_f64()
            ),
            (None, None) => format!("c{n} is open with nothing said"),
        })
        .collect();
    let detail = if waits.is_empty() {
        "no connection is open: the client is waiting to retry".to_string()
    } else {
        waits.join("; ")
    };
    Violation {
        message: None,
        invariant: "liveness",
        detail: format!(
            "{STUCK} ({:.3}s) was reached with the client not done: {detail}",
            at.as_secs_f64()
        ),
    }
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
