//! The `liveness` violation of a run stopped by its time limit: who waits for whom.

use super::Violation;
use crate::transcript::{Event, EventKind};
use std::time::Duration;

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
