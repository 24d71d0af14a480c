//! JSON Lines: one object per line, fields in a fixed order.
//!
//! Schema (every object has `type` first):
//! - `{"type":"run", "smtpsim", "scenario", "file", "seed", "faults", "fault_events":[text]}`
//! - `{"type":"event", "t_us", "conn", "from", "to", "kind", ...}` where `kind` is one of
//!   `connect`, `connect-failed` (+`reason`), `data` (a write: +`text`, +`hex`), `received`
//!   (a read, same fields), `close`, `reset` (+`reason`), `note` (+`text`), `delivered`
//!   (+`queue_id`, `mail_from`, `rcpt_to`, `size`). `t_us` is virtual microseconds since the
//!   start; `text` is the bytes as UTF-8 (lossy), `hex` the exact bytes.
//! - `{"type":"message", "id", "from", "to", "client", "interceptor":[text], "server", "verdict",
//!   "recipients":[{"address", "verdict"}], "dkim" (with `[dkim]` only)}`
//! - `{"type":"verdict", "passed", "violations":[{"message", "invariant", "detail"}]}`

use crate::sim::RunResult;
use crate::transcript::{Event, EventKind, Layer};
use serde::Serialize;

#[derive(Serialize)]
struct Run<'a> {
    r#type: &'static str,
    smtpsim: &'static str,
    scenario: &'a str,
    file: &'a str,
    seed: u64,
    faults: Vec<String>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    r#type: &'static str,
    t_us: u128,
    conn: u32,
    from: &'a str,
    to: &'a str,
    kind: &'static str,
    /// `protected` (inside TLS) or `opaque` (TLS records relayed unread); absent in the clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mail_from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcpt_to: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    r#type: &'static str,
    id: usize,
    from: &'a str,
    to: &'a [String],
    client: &'a str,
    interceptor: &'a [String],
    server: &'a str,
    verdict: &'static str,
    recipients: Vec<RecipientOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dkim: Option<&'a str>,
}

#[derive(Serialize)]
struct RecipientOut<'a> {
    address: &'a str,
    verdict: &'static str,
}

#[derive(Serialize)]
struct ViolationOut<'a> {
    message: Option<usize>,
    invariant: &'a str,
    detail: &'a str,
}

#[derive(Serialize)]
struct VerdictOut<'a> {
    r#type: &'static str,
    passed: bool,
    violations: Vec<ViolationOut<'a>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One event as a JSON object (one line, no newline).
pub fn event_line(e: &Event) -> Option<String> {
    if let EventKind::Log(record) = &e.kind {
        if super::maillog::describe(record, &e.to, e.at).is_empty() {
            // The `smtpd -v` dialogue lines repeat the data events.
            return None;
        }
    }
    let mut out = EventOut {
        r#type: "event",
        t_us: e.at.as_micros(),
        conn: e.conn,
        from: &e.from,
        to: &e.to,
        kind: "",
        tls: match e.layer {
            Layer::Plain => None,
            Layer::Tls => Some("protected"),
            Layer::Opaque => Some("opaque"),
        },
        text: None,
        hex: None,
        reason: None,
        queue_id: None,
        mail_from: None,
        rcpt_to: None,
        size: None,
    };
    match &e.kind {
        EventKind::Connect => out.kind = "connect",
        EventKind::ConnectFailed(why) => {
            out.kind = "connect-failed";
            out.reason = Some(why);
        }
        EventKind::Data(bytes) | EventKind::Received(bytes) => {
            out.kind = if matches!(e.kind, EventKind::Data(_)) {
                "data"
            } else {
                "received"
            };
            out.text = Some(String::from_utf8_lossy(bytes).into_owned());
            out.hex = Some(hex(bytes));
        }
        EventKind::Close => out.kind = "close",
        EventKind::Reset(why) => {
            out.kind = "reset";
            out.reason = Some(why);
        }
        EventKind::Note(text) => {
            out.kind = "note";
            out.text = Some(text.clone());
        }
        EventKind::Tls(tls) => {
            out.kind = "tls";
            out.text = Some(super::text::tls_text(tls));
        }
        EventKind::Log(record) => {
            out.kind = "maillog";
            let lines = super::maillog::describe(record, &e.to, e.at);
            out.text = Some(lines.join("\n"));
        }
        EventKind::Delivered {
            queue_id,
            mail_from,
            rcpt_to,
            size,
        } => {
            out.kind = "delivered";
            out.queue_id = Some(queue_id);
            out.mail_from = Some(mail_from);
            out.rcpt_to = Some(rcpt_to);
            out.size = Some(*size);
        }
    }
    Some(serde_json::to_string(&out).expect("plain data serialises"))
}

/// The whole run as JSON Lines.
pub fn render(result: &RunResult, file: &str) -> String {
    let mut lines = Vec::new();
    let run = Run {
        r#type: "run",
        smtpsim: env!("CARGO_PKG_VERSION"),
        scenario: &result.scenario,
        file,
        seed: result.seed,
        faults: result.plan.events.iter().map(|e| e.to_string()).collect(),
    };
    lines.push(serde_json::to_string(&run).expect("plain data serialises"));
    for e in &result.events {
        lines.extend(event_line(e));
    }
    for m in &result.report.messages {
        let out = MessageOut {
            r#type: "message",
            id: m.id + 1,
            from: &m.from,
            to: &m.to,
            client: &m.client,
            interceptor: &m.interceptor,
            server: &m.server,
            verdict: m.verdict.name(),
            recipients: m
                .recipients
                .iter()
                .map(|r| RecipientOut {
                    address: &r.address,
                    verdict: r.verdict.name(),
                })
                .collect(),
            dkim: m.dkim.as_deref(),
        };
        lines.push(serde_json::to_string(&out).expect("plain data serialises"));
    }
    let verdict = VerdictOut {
        r#type: "verdict",
        passed: result.report.passed(),
        violations: result
            .report
            .violations
            .iter()
            .map(|v| ViolationOut {
                message: v.message,
                invariant: v.invariant,
                detail: &v.detail,
            })
            .collect(),
    };
    lines.push(serde_json::to_string(&verdict).expect("plain data serialises"));
    lines.join("\n") + "\n"
}
