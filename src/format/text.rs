//! The text transcript (the snapshot unit): the header, one row per wire line or event with
//! its virtual time, connection and direction, the exact bytes escaped, then the verdicts.
//! Live mode prints the same rows as they happen ([`printer`]).

use crate::oracle::Report;
use crate::proto::dur::Dur;
use crate::sim::RunResult;
use crate::transcript::{Event, EventKind, Layer, Tap, TlsEvent};
use std::fmt::Write as _;
use std::time::Duration;

/// The full text transcript of a run: header, events, verdicts.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    for line in &result.header {
        out.push_str(&format!("# {line}\n"));
    }
    out.push('\n');
    out.push_str(&render_events(&result.events));
    out.push('\n');
    out.push_str(&render_report(&result.report));
    out
}

/// Prints each event as it happens: text rows, or JSON Lines (the `--format json` schema).
/// Live, only our side records: what the peer sent shows as what we received.
pub fn printer(json: bool) -> Tap {
    Box::new(move |event: &Event| {
        let mut text = String::new();
        if json {
            if let Some(line) = crate::format::json::event_line(event) {
                text = line + "\n";
            }
        } else {
            render_event_with(&mut text, event, true);
        }
        print!("{text}");
    })
}

/// Escapes a wire line for display: printable ASCII as is, `\r`, `\n`, `\t`, `\\` and
/// `\xNN` for everything else.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Splits one write into display lines: CRLF-terminated lines show their content only; any
/// other ending is shown escaped, and a piece with no terminator is marked `[partial]`.
pub fn wire_rows(bytes: &[u8]) -> Vec<String> {
    let mut rows = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (line, next) = rest.split_at(i + 1);
                if line.ends_with(b"\r\n") {
                    rows.push(escape(&line[..line.len() - 2]));
                } else {
                    rows.push(escape(line));
                }
                rest = next;
            }
            None => {
                rows.push(format!("{} [partial]", escape(rest)));
                rest = &[];
            }
        }
    }
    rows
}

/// Formats a time as seconds with millisecond precision, right-aligned.
pub fn format_time(at: Duration) -> String {
    format!("{:>9}", Dur(at).clock())
}

/// Renders one event as text rows (appended to `out`). Reads are not shown: in a simulation
/// every byte already has a row from the side that wrote it.
pub fn render_event(out: &mut String, e: &Event) {
    render_event_with(out, e, false);
}

/// As [`render_event`]; `show_reads` also renders reads, for a log with only one side's view.
pub fn render_event_with(out: &mut String, e: &Event, show_reads: bool) {
    let time = format_time(e.at);
    let conn = if e.conn == 0 {
        "  ".to_string()
    } else {
        format!("c{}", e.conn)
    };
    // Like swaks: `~>` for lines inside TLS.
    let head = if e.layer == Layer::Plain { "->" } else { "~>" };
    let arrow = |out: &mut String, text: &str| {
        let _ = writeln!(
            out,
            "{time} {conn:<3} {:>11} {head} {:<11}  {text}",
            e.from, e.to
        );
    };
    let mark = |out: &mut String, text: &str| {
        let _ = writeln!(out, "{time} {conn:<3} {:>11} ** {:<11}  {text}", e.from, "");
    };
    match &e.kind {
        EventKind::Connect => arrow(out, "[connect]"),
        EventKind::ConnectFailed(why) => arrow(out, &format!("[connect failed: {why}]")),
        EventKind::Data(bytes) | EventKind::Received(bytes) if e.layer == Layer::Opaque => {
            if show_reads || matches!(e.kind, EventKind::Data(_)) {
                arrow(out, &format!("[TLS records, {} bytes]", bytes.len()));
            }
        }
        EventKind::Data(bytes) => {
            for row in wire_rows(bytes) {
                arrow(out, &row);
            }
        }
        EventKind::Received(bytes) if show_reads => {
            for row in wire_rows(bytes) {
                arrow(out, &row);
            }
        }
        EventKind::Received(_) | EventKind::Log(_) => {}
        EventKind::Close => arrow(out, "[close]"),
        EventKind::Reset(why) => mark(out, &format!("[{why}]")),
        EventKind::Note(text) => mark(out, text),
        EventKind::Tls(tls) => mark(out, &tls_text(tls)),
        EventKind::Delivered {
            queue_id,
            mail_from,
            rcpt_to,
            size,
        } => {
            let rcpts: Vec<String> = rcpt_to.iter().map(|r| format!("<{r}>")).collect();
            mark(
                out,
                &format!(
                    "delivered {queue_id}: <{mail_from}> -> {} ({size} bytes)",
                    rcpts.join(", ")
                ),
            );
        }
    }
}

/// What a TLS event says, as a transcript note.
pub fn tls_text(tls: &TlsEvent) -> String {
    match tls {
        TlsEvent::Established(summary) => format!("TLS established: {summary}"),
        TlsEvent::Failed(why) => format!("TLS handshake failed: {why}"),
        TlsEvent::Injected { bytes, executed } => {
            let what = if *executed {
                "executed inside TLS (CVE-2011-0411)"
            } else {
                "discarded"
            };
            format!(
                "{} bytes sent in plaintext after STARTTLS {what}: {}",
                bytes.len(),
                escape(bytes)
            )
        }
    }
}

/// Renders every event as text rows.
pub fn render_events(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        render_event(&mut out, e);
    }
    out
}

/// The verdict section of a text transcript.
pub fn render_report(report: &Report) -> String {
    let mut out = String::new();
    for m in &report.messages {
        let to: Vec<String> = m.to.iter().map(|t| format!("<{t}>")).collect();
        out.push_str(&format!(
            "message {}: <{}> -> {}\n",
            m.id + 1,
            m.from,
            to.join(", ")
        ));
        out.push_str(&format!("  client       {}\n", m.client));
        for (i, line) in m.interceptor.iter().enumerate() {
            let label = if i == 0 { "interceptor" } else { "" };
            out.push_str(&format!("  {label:<11}  {line}\n"));
        }
        out.push_str(&format!("  server       {}\n", m.server));
        if let Some(dkim) = &m.dkim {
            out.push_str(&format!("  dkim         {dkim}\n"));
        }
        out.push_str(&format!("  verdict      {}\n", m.verdict));
        if m.mixed() {
            let each: Vec<String> = m
                .recipients
                .iter()
                .map(|r| format!("<{}> {}", r.address, r.verdict))
                .collect();
            out.push_str(&format!("  recipients   {}\n", each.join(", ")));
        }
    }
    if report.violations.is_empty() {
        out.push_str("invariants: all held\n");
    } else {
        for v in &report.violations {
            out.push_str(&format!("VIOLATION {}: {}\n", v.invariant, v.detail));
        }
    }
    out
}
