//! The TLS invariants: commands injected before a handshake and run inside it
//! (CVE-2011-0411), and mail that crossed a hop in plaintext although TLS was to be had.

use super::{Report, Verdict, Violation};
use crate::proto::client::TlsPolicy;
use crate::transcript::{Event, EventKind, Layer, TlsEvent};

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
            for r in m.recipients.iter_mut() {
                if r.verdict == Verdict::Delivered {
                    r.verdict = Verdict::Downgraded;
                }
            }
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
