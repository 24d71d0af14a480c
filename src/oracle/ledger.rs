//! The ledger: which delivery is a copy of which message, what the client was told about
//! each recipient over all its attempts, and the verdict per recipient and per message.
//!
//! Addresses are compared as the server reads them ([`address_key`]): a quoted local part,
//! a source route or the case of a domain never make a delivered recipient look lost.

use super::{change, Verdict, Violation};
use super::{describe_outcome, interceptor_story, MessageReport, RecipientReport, Report};
use crate::proto::client::{Message, Outcome, Status};
use crate::proto::data::canonical;
use crate::proto::envelope::extract;
use crate::proto::server::Delivery;
use std::time::Duration;

/// An address as the server holds it once read: in internal form (quotes undone, brackets,
/// source route and comments dropped: RFC 5321 §4.1.2, as Postfix reads a path) with the
/// domain in lower case. `client_form`: the address as a client writes it in its envelope.
pub fn address_key(client_form: &str) -> String {
    let internal = extract(&format!("<{client_form}>")).unwrap_or_else(|()| client_form.into());
    lower_domain(&internal)
}

/// An address as the server stored it (already internal), with the domain in lower case.
fn stored_key(internal: &str) -> String {
    lower_domain(internal)
}

fn lower_domain(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => address.to_string(),
    }
}

/// Builds the ledger and checks the invariants.
///
/// `outcomes` holds every attempt, in order (one attempt may be for some of the message's
/// recipients only: those a queue kept after a 4xx). `retrying`: the client has a queue, so
/// a recipient it neither delivered, bounced nor kept queued was given up (liveness), and a
/// recipient refused with a 4xx that it then forgot is a silent loss.
pub fn judge(
    messages: &[Message],
    outcomes: &[Outcome],
    deliveries: &[Delivery],
    interceptor_notes: &[Vec<String>],
    retrying: bool,
) -> Report {
    let mut report = Report::default();
    let owner = assign_deliveries(messages, deliveries);
    for (mi, message) in messages.iter().enumerate() {
        let number = message.id + 1;
        let body = canonical(&message.body);
        let attempts: Vec<&Outcome> = outcomes.iter().filter(|o| o.id == message.id).collect();
        let mine: Vec<(&Delivery, bool)> = deliveries
            .iter()
            .zip(&owner)
            .filter_map(|(d, own)| match own {
                Some((m, intact)) if *m == mi => Some((d, *intact)),
                _ => None,
            })
            .collect();
        let judged: Vec<(Verdict, Option<(&'static str, String)>)> = message
            .to
            .iter()
            .map(|to| {
                let copies = RcptCopies::of(to, &mine, &body);
                let told = Told::of(to, message, &attempts);
                let who = format!("message {number} to <{to}>");
                decide(&who, &copies, &told, retrying)
            })
            .collect();
        let agree = judged.windows(2).all(|w| {
            w[0].0 == w[1].0 && w[0].1.as_ref().map(|b| b.0) == w[1].1.as_ref().map(|b| b.0)
        });
        let verdict = judged
            .iter()
            .map(|j| j.0)
            .max_by_key(|v| gravity(*v))
            .unwrap_or(Verdict::NotSent);
        if agree {
            // One story for the whole message, told once.
            if let Some(to) = message.to.first() {
                let copies = RcptCopies::of(to, &mine, &body);
                let told = Told::of(to, message, &attempts);
                if let (_, Some((invariant, detail))) =
                    decide(&format!("message {number}"), &copies, &told, retrying)
                {
                    report.violations.push(Violation {
                        message: Some(number),
                        invariant,
                        detail,
                    });
                }
            }
        } else {
            for (_, broken) in &judged {
                if let Some((invariant, detail)) = broken {
                    report.violations.push(Violation {
                        message: Some(number),
                        invariant,
                        detail: detail.clone(),
                    });
                }
            }
        }
        report.messages.push(MessageReport {
            id: message.id,
            from: message.from.clone(),
            to: message.to.clone(),
            client: client_text(&attempts),
            interceptor: interceptor_notes
                .get(message.id)
                .map(|n| interceptor_story(n))
                .unwrap_or_default(),
            server: server_text(&mine, &body),
            verdict,
            recipients: message
                .to
                .iter()
                .zip(&judged)
                .map(|(to, j)| RecipientReport {
                    address: to.clone(),
                    verdict: j.0,
                })
                .collect(),
            dkim: None,
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

/// How grave a verdict is, to speak for a message whose recipients fared differently: a
/// broken invariant first, then what the sender still has to act on.
fn gravity(v: Verdict) -> u8 {
    match v {
        Verdict::Lost
        | Verdict::Duplicated
        | Verdict::Corrupted
        | Verdict::Partial
        | Verdict::DeliveredDespiteFailure => 9,
        Verdict::Deferred => 6,
        Verdict::Failed => 5,
        Verdict::Bounced => 4,
        Verdict::NotSent => 3,
        Verdict::DeliveredUnconfirmed | Verdict::DuplicatedRfc1047 => 2,
        Verdict::Downgraded => 1,
        Verdict::Delivered => 0,
    }
}

/// Which message each delivery is a copy of, and whether intact: `owner[i] = (message,
/// intact)`. Three passes so that one message's extra or damaged copy never steals another
/// message's good delivery: first one intact copy each, then further intact copies, then
/// damaged copies by envelope. A copy may be for some of the recipients only (a retry of
/// those a queue kept).
pub(super) fn assign_deliveries(
    messages: &[Message],
    deliveries: &[Delivery],
) -> Vec<Option<(usize, bool)>> {
    let keyed: Vec<(String, Vec<String>, Vec<u8>)> = messages
        .iter()
        .map(|m| {
            let to = m.to.iter().map(|a| address_key(a)).collect();
            (address_key(&m.from), to, canonical(&m.body))
        })
        .collect();
    let same_envelope = |mi: usize, d: &Delivery| {
        let (from, to, _) = &keyed[mi];
        stored_key(&d.mail_from) == *from
            && !d.rcpt_to.is_empty()
            && d.rcpt_to.iter().all(|r| to.contains(&stored_key(r)))
    };
    let intact = |mi: usize, d: &Delivery| same_envelope(mi, d) && d.body == keyed[mi].2;
    let mut owner: Vec<Option<(usize, bool)>> = vec![None; deliveries.len()];
    for mi in 0..messages.len() {
        if let Some(i) =
            (0..deliveries.len()).find(|&i| owner[i].is_none() && intact(mi, &deliveries[i]))
        {
            owner[i] = Some((mi, true));
        }
    }
    for mi in 0..messages.len() {
        for i in 0..deliveries.len() {
            if owner[i].is_none() && intact(mi, &deliveries[i]) {
                owner[i] = Some((mi, true));
            }
        }
    }
    for mi in 0..messages.len() {
        for i in 0..deliveries.len() {
            if owner[i].is_none() && same_envelope(mi, &deliveries[i]) {
                owner[i] = Some((mi, false));
            }
        }
    }
    owner
}

/// The server's copies of a message that name one recipient.
struct RcptCopies {
    intact: usize,
    damaged: Vec<String>,
    /// Some damaged copy is the content cut short.
    partial: bool,
    /// What changed in each damaged copy: `queue id: description`.
    changes: Vec<String>,
}

impl RcptCopies {
    fn of(to: &str, mine: &[(&Delivery, bool)], body: &[u8]) -> RcptCopies {
        let key = address_key(to);
        let mut copies = RcptCopies {
            intact: 0,
            damaged: Vec::new(),
            partial: false,
            changes: Vec::new(),
        };
        for (d, intact) in mine {
            if !d.rcpt_to.iter().any(|r| stored_key(r) == key) {
                continue;
            }
            if *intact {
                copies.intact += 1;
            } else {
                copies.damaged.push(d.queue_id.clone());
                copies.partial |= d.body.len() < body.len() && body.starts_with(&d.body);
                copies.changes.push(format!(
                    "{}: {}",
                    d.queue_id,
                    change::describe(body, &d.body)
                ));
            }
        }
        copies
    }

    fn count(&self) -> usize {
        self.intact + self.damaged.len()
    }
}

/// The server's view of a message (`body`: the content the client sent), for the report.
fn server_text(mine: &[(&Delivery, bool)], body: &[u8]) -> String {
    let ids: Vec<&str> = mine.iter().map(|(d, _)| d.queue_id.as_str()).collect();
    let damaged: Vec<(&str, String)> = mine
        .iter()
        .filter(|(_, intact)| !intact)
        .map(|(d, _)| (d.queue_id.as_str(), change::describe(body, &d.body)))
        .collect();
    match (ids.len(), damaged.as_slice()) {
        (0, _) => "nothing delivered".to_string(),
        (1, []) => format!("delivered once as {} (content intact)", ids[0]),
        (n, []) => format!("delivered {n} times as {}", ids.join(", ")),
        (1, [(id, what)]) => format!("delivered once as {id}, content changed: {what}"),
        (n, _) => {
            let what: Vec<String> = damaged.iter().map(|(id, w)| format!("{id}: {w}")).collect();
            format!(
                "delivered {n} times as {}; content changed in {}",
                ids.join(", "),
                what.join("; ")
            )
        }
    }
}

/// What the client was told about a message: its last attempt, and how many there were.
fn client_text(attempts: &[&Outcome]) -> String {
    match attempts {
        [] => "never tried".to_string(),
        [one] => describe_outcome(one),
        [.., last] => format!("{} (attempt {})", describe_outcome(last), attempts.len()),
    }
}

/// What the client was last told about one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Said {
    /// Never tried (no attempt got to it, or none was for it).
    Nothing,
    /// The message was accepted with this recipient.
    Accepted,
    /// Refused for good: a 5xx to the recipient or to the message.
    Refused,
    /// A transient failure: a 4xx, a timeout, a lost connection.
    Transient,
}

/// The client's side of one recipient, over every attempt that was for it.
struct Told {
    said: Said,
    /// The last attempt refused this recipient with a 4xx while the server took the message
    /// for the others: a queue must keep it.
    refused_alone: bool,
    /// The client's queue holds it, with this next attempt.
    queued_until: Option<Duration>,
    /// Some attempt sent the final '.' with this recipient accepted and got no reply.
    in_gap: bool,
    /// The last attempt's description.
    text: String,
}

impl Told {
    fn of(to: &str, message: &Message, attempts: &[&Outcome]) -> Told {
        let mut told = Told {
            said: Said::Nothing,
            refused_alone: false,
            queued_until: None,
            in_gap: false,
            text: "never tried".to_string(),
        };
        for o in attempts {
            if !o.recipients(&message.to).iter().any(|r| r == to) {
                continue;
            }
            let refusal = o
                .refused
                .iter()
                .find(|(r, _)| r == to)
                .map(|(_, reply)| reply);
            told.in_gap |= o.in_sync_gap && refusal.is_none();
            told.said = match (refusal, &o.status) {
                (Some(reply), _) if reply.class() == 5 => Said::Refused,
                (Some(_), _) => Said::Transient,
                (None, Status::Accepted) => Said::Accepted,
                (None, Status::Rejected) => Said::Refused,
                (None, Status::Deferred) => Said::Transient,
                (None, Status::NotAttempted) if o.reply.is_none() && o.reason.is_none() => {
                    Said::Nothing
                }
                (None, Status::NotAttempted) => Said::Transient,
            };
            told.refused_alone = refusal.is_some() && o.status == Status::Accepted;
            told.queued_until = o.retry_at;
            told.text = describe_outcome(o);
        }
        told
    }
}

/// The verdict on one recipient (`who` names it in a violation's detail), and the invariant
/// it breaks with the detail, if any.
fn decide(
    who: &str,
    copies: &RcptCopies,
    told: &Told,
    retrying: bool,
) -> (Verdict, Option<(&'static str, String)>) {
    let delivered = copies.count();
    let damaged = copies.changes.join("; ");
    if copies.partial {
        let detail = format!("{who} delivered cut short ({damaged})");
        return (Verdict::Partial, Some(("partial-delivery", detail)));
    }
    if !copies.damaged.is_empty() {
        let detail = format!("{who} delivered with altered content ({damaged})");
        return (Verdict::Corrupted, Some(("corruption", detail)));
    }
    if delivered > 1 {
        if told.in_gap {
            return (Verdict::DuplicatedRfc1047, None);
        }
        let detail = format!("{who} delivered {delivered} times");
        return (Verdict::Duplicated, Some(("duplicate", detail)));
    }
    let text = &told.text;
    match (told.said, delivered) {
        (Said::Accepted, 1) => (Verdict::Delivered, None),
        (Said::Accepted, _) => (
            Verdict::Lost,
            Some((
                "silent-loss",
                format!("{who}: the client was told it was accepted, but no server has it"),
            )),
        ),
        (Said::Refused, 0) => (Verdict::Bounced, None),
        (Said::Transient, 0) if told.queued_until.is_some() => (Verdict::Deferred, None),
        (Said::Transient, 0) if retrying && told.refused_alone => (
            Verdict::Lost,
            Some((
                "silent-loss",
                format!(
                    "{who}: refused with a 4xx while the rest was accepted, then neither \
                     retried, bounced nor kept queued by a client that has a queue: {text}"
                ),
            )),
        ),
        (Said::Transient, 0) if retrying => (
            Verdict::Deferred,
            Some((
                "liveness",
                format!("{who} was still not delivered when the client gave up: {text}"),
            )),
        ),
        (Said::Transient, 0) => (Verdict::Failed, None),
        (Said::Nothing, 0) => (Verdict::NotSent, None),
        (_, _) if told.in_gap => (Verdict::DeliveredUnconfirmed, None),
        (_, _) => (
            Verdict::DeliveredDespiteFailure,
            Some((
                "delivered-despite-failure",
                format!("{who} was delivered but the client was told: {text}"),
            )),
        ),
    }
}
