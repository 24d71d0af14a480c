//! A sequence diagram of a run as a self-contained SVG: one lifeline per actor, time running
//! down, an arrow per write (commands, replies, content), interceptor decisions and server
//! deliveries as notes on their lifeline, injected faults as red bands, and long silences
//! (the 10 s scan) drawn as a marked break rather than to scale. Verdicts at the bottom.

use super::text::format_time;
use super::xml_escape;
use crate::oracle::Verdict;
use crate::sim::RunResult;
use crate::transcript::{Event, EventKind, Layer};
use std::fmt::Write as _;
use std::time::Duration;

const ROW: i64 = 20;
const TIME_X: i64 = 70;
const FIRST_LANE: i64 = 190;
const LANE_GAP: i64 = 380;
const LABEL_CHARS: usize = 46;
/// Advance of one character at 12 px in the monospace fonts named (0.6 em, rounded up).
const CHAR_WIDTH: f64 = 7.3;
/// Silences longer than this are drawn as a break.
const BREAK_AFTER: Duration = Duration::from_millis(1500);

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

fn color(role: &str) -> &'static str {
    match role {
        "client" => "#1f5fbf",
        "interceptor" => "#c05a00",
        "server" => "#2b7a2b",
        _ => "#555555",
    }
}

fn verdict_color(v: Verdict) -> &'static str {
    match v {
        Verdict::Delivered
        | Verdict::Bounced
        | Verdict::Deferred
        | Verdict::DeliveredUnconfirmed
        | Verdict::NotSent => "#2b7a2b",
        Verdict::DuplicatedRfc1047 => "#b08000",
        _ => "#c0392b",
    }
}

/// Where each actor's lifeline is.
struct Layout {
    actors: Vec<&'static str>,
    width: i64,
}

impl Layout {
    fn of(result: &RunResult) -> Layout {
        let mut actors = Vec::new();
        for role in ["client", "interceptor", "server"] {
            if result.events.iter().any(|e| e.from == role || e.to == role) {
                actors.push(role);
            }
        }
        let width = FIRST_LANE + LANE_GAP * (actors.len().max(1) as i64 - 1) + 200;
        Layout { actors, width }
    }

    fn lane(&self, role: &str) -> Option<i64> {
        self.actors
            .iter()
            .position(|a| *a == role)
            .map(|i| FIRST_LANE + LANE_GAP * i as i64)
    }

    /// Notes of the rightmost actor open to the left.
    fn opens_left(&self, role: &str) -> bool {
        self.lane(role) == self.actors.last().and_then(|a| self.lane(a)) && self.actors.len() > 1
    }
}

/// The sequence diagram of a run.
pub fn render(result: &RunResult) -> String {
    let layout = Layout::of(result);
    let mut body = String::new();
    let mut y: i64 = 110;
    let mut last_at: Option<Duration> = None;
    for (e, fragments) in joined_fragments(&result.events) {
        if let Some(gap) = last_at.map(|prev| e.at.saturating_sub(prev)) {
            if gap > BREAK_AFTER {
                y = draw_break(&mut body, y, gap, &layout);
            }
        }
        last_at = Some(e.at);
        y = draw_event(&mut body, y, &e, fragments, &layout);
    }
    let lifelines_end = y;
    let (footer, height) = draw_footer(&result.report, y + 20);
    frame(result, &layout, &body, &footer, lifelines_end, height)
}

/// The events to draw (reads left out), with consecutive writes of one side that end
/// mid-line (split writes) joined into one, counted in fragments.
fn joined_fragments(events: &[Event]) -> Vec<(Event, usize)> {
    let mut out: Vec<(Event, usize)> = Vec::new();
    for e in events {
        if matches!(e.kind, EventKind::Received(_) | EventKind::Log(_)) {
            continue;
        }
        if let (EventKind::Data(more), Some((last, count))) = (&e.kind, out.last_mut()) {
            let same_side = last.conn == e.conn && last.from == e.from && last.to == e.to;
            if let EventKind::Data(bytes) = &mut last.kind {
                if same_side && !bytes.ends_with(b"\n") {
                    bytes.extend_from_slice(more);
                    *count += 1;
                    continue;
                }
            }
        }
        out.push((e.clone(), 1));
    }
    out
}

/// A marked break for a long silence.
fn draw_break(body: &mut String, y: i64, gap: Duration, layout: &Layout) -> i64 {
    let y = y + 8;
    let _ = write!(
        body,
        r##"<rect x="20" y="{}" width="{}" height="22" fill="#f3f3f3"/>"##,
        y - 14,
        layout.width - 40
    );
    for a in &layout.actors {
        let x = layout.lane(a).unwrap_or(0);
        let _ = write!(
            body,
            r##"<path d="M{} {} l8 -5 l-16 -5 l8 -5" stroke="#888" fill="none"/>"##,
            x,
            y + 6
        );
    }
    let _ = write!(
        body,
        r##"<text x="{}" y="{}" class="gap">⋯ {:.1} s later ⋯</text>"##,
        FIRST_LANE + LANE_GAP / 2,
        y + 1,
        gap.as_secs_f64()
    );
    y + ROW + 6
}

/// One event's row: an arrow, a note or a fault band; the next row's y.
fn draw_event(body: &mut String, y: i64, e: &Event, fragments: usize, layout: &Layout) -> i64 {
    let time = format_time(e.at);
    let from_x = layout.lane(&e.from);
    let to_x = layout.lane(&e.to);
    let width = layout.width;
    match &e.kind {
        EventKind::Data(bytes) => {
            let (Some(fx), Some(tx)) = (from_x, to_x) else {
                return y;
            };
            let rows = match e.layer {
                Layer::Opaque => vec![format!("[TLS records, {} bytes]", bytes.len())],
                _ => super::text::wire_rows(bytes),
            };
            let lock = if e.layer == Layer::Tls { "🔒 " } else { "" };
            let first = format!("{lock}{}", rows.first().map(String::as_str).unwrap_or(""));
            let mut label = clip(&first, LABEL_CHARS);
            if rows.len() > 1 {
                let _ = write!(label, "  (+{} lines)", rows.len() - 1);
            }
            if fragments > 1 {
                let _ = write!(label, "  [{fragments} fragments]");
            }
            arrow(
                body,
                y,
                fx,
                tx,
                color(&e.from),
                &label,
                &rows.join("\n"),
                false,
            );
            time_label(body, y, &time);
            y + ROW
        }
        EventKind::Connect | EventKind::Close | EventKind::ConnectFailed(_) => {
            let (Some(fx), Some(tx)) = (from_x, to_x) else {
                return y;
            };
            let label = match &e.kind {
                EventKind::Connect => "connect".to_string(),
                EventKind::Close => "close (FIN)".to_string(),
                EventKind::ConnectFailed(why) => format!("connect failed: {why}"),
                _ => unreachable!(),
            };
            arrow(body, y, fx, tx, "#777777", &label, &label, true);
            time_label(body, y, &time);
            y + ROW
        }
        EventKind::Tls(tls) => {
            let x = from_x.unwrap_or(width / 2);
            let left = layout.opens_left(&e.from);
            let text = super::text::tls_text(tls);
            note(body, y, x, &text, "#1f5fa8", false, left);
            time_label(body, y, &time);
            y + ROW
        }
        EventKind::Reset(why) | EventKind::Note(why) => {
            let is_fault = e.from == "network"
                || why.starts_with("fault:")
                || matches!(e.kind, EventKind::Reset(_));
            let x = from_x.unwrap_or(width / 2);
            if e.from == "network" || from_x.is_none() {
                let _ = write!(
                    body,
                    r##"<rect x="{}" y="{}" width="{}" height="16" fill="#fde2e2"/>"##,
                    FIRST_LANE - 60,
                    y - 12,
                    width - FIRST_LANE - 80
                );
                let _ = write!(
                    body,
                    r##"<text x="{}" y="{}" class="fault">⚡ {}</text>"##,
                    width / 2,
                    y,
                    xml_escape(&clip(why, 90))
                );
            } else {
                let left = layout.opens_left(&e.from);
                note(
                    body,
                    y,
                    x,
                    why,
                    if is_fault { "#c0392b" } else { color(&e.from) },
                    is_fault,
                    left,
                );
            }
            time_label(body, y, &time);
            y + ROW
        }
        EventKind::Delivered {
            queue_id,
            rcpt_to,
            size,
            ..
        } => {
            let x = from_x.unwrap_or(width / 2);
            let text = format!(
                "delivered {queue_id} to {} ({size} bytes)",
                rcpt_to.join(", ")
            );
            let left = layout.opens_left(&e.from);
            note(body, y, x, &text, "#2b7a2b", false, left);
            time_label(body, y, &time);
            y + ROW
        }
        EventKind::Received(_) | EventKind::Log(_) => y,
    }
}

/// Each message's verdict and the invariants, from `y`; the footer and the image's height.
fn draw_footer(report: &crate::oracle::Report, y: i64) -> (String, i64) {
    let mut y = y;
    let mut footer = String::new();
    for m in &report.messages {
        let _ = write!(
            footer,
            r##"<text x="30" y="{y}" class="verdict" fill="{}">message {}: {} · {}</text>"##,
            verdict_color(m.verdict),
            m.id + 1,
            xml_escape(m.verdict.name()),
            xml_escape(&clip(&m.client, 110))
        );
        y += ROW;
        let _ = write!(
            footer,
            r##"<text x="48" y="{y}" class="small">server: {}</text>"##,
            xml_escape(&clip(&m.server, 120))
        );
        y += ROW;
    }
    let (status, status_color) = if report.passed() {
        ("invariants: all held".to_string(), "#2b7a2b")
    } else {
        let names: Vec<&str> = report.violations.iter().map(|v| v.invariant).collect();
        (format!("VIOLATION: {}", names.join(", ")), "#c0392b")
    };
    let _ = write!(
        footer,
        r##"<text x="30" y="{y}" class="verdict" fill="{status_color}">{}</text>"##,
        xml_escape(&status)
    );
    (footer, y + 30)
}

/// The whole image: title, lifelines, the rows and the footer.
fn frame(
    result: &RunResult,
    layout: &Layout,
    body: &str,
    footer: &str,
    lifelines_end: i64,
    y: i64,
) -> String {
    let width = layout.width;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">"##
    );
    svg.push_str(
        r##"<style>.title{font-size:16px;font-weight:bold}.sub{fill:#555}.actor{font-size:14px;font-weight:bold;text-anchor:middle}.label{fill:#222}.time{fill:#888;text-anchor:end}.gap{fill:#666;text-anchor:middle;font-style:italic}.fault{fill:#c0392b;text-anchor:middle}.verdict{font-weight:bold}.small{fill:#444}.note{font-style:italic}</style>"##,
    );
    let _ = write!(
        svg,
        r##"<rect width="{width}" height="{y}" fill="white"/>"##
    );
    let _ = write!(
        svg,
        r##"<text x="20" y="26" class="title">{} · seed {}</text>"##,
        xml_escape(&result.scenario),
        result.seed
    );
    if let Some(about) = result.header.iter().find_map(|h| h.strip_prefix("about: ")) {
        let _ = write!(
            svg,
            r##"<text x="20" y="46" class="sub">{}</text>"##,
            xml_escape(&clip(about, (width as usize - 40) / 7))
        );
    }
    for a in &layout.actors {
        let x = layout.lane(a).unwrap_or(0);
        let _ = write!(
            svg,
            r##"<rect x="{}" y="62" width="120" height="26" rx="4" fill="{}"/>"##,
            x - 60,
            color(a)
        );
        let _ = write!(
            svg,
            r##"<text x="{x}" y="80" class="actor" fill="white">{a}</text>"##
        );
        let _ = write!(
            svg,
            r##"<line x1="{x}" y1="88" x2="{x}" y2="{lifelines_end}" stroke="#bbb" stroke-dasharray="4 3"/>"##
        );
    }
    svg.push_str(body);
    svg.push_str(footer);
    svg.push_str("</svg>\n");
    svg
}

fn time_label(out: &mut String, y: i64, time: &str) {
    let _ = write!(
        out,
        r##"<text x="{TIME_X}" y="{y}" class="time">{}</text>"##,
        xml_escape(time.trim())
    );
}

/// An arrow with `label` over it and `full` as its tooltip.
#[allow(clippy::too_many_arguments)]
fn arrow(
    out: &mut String,
    y: i64,
    from_x: i64,
    to_x: i64,
    stroke: &str,
    label: &str,
    full: &str,
    dashed: bool,
) {
    let dir = if to_x >= from_x { 1 } else { -1 };
    let tip = to_x - dir * 2;
    let dash = if dashed {
        r#" stroke-dasharray="5 3""#
    } else {
        ""
    };
    let _ = write!(
        out,
        r##"<line x1="{from_x}" y1="{y}" x2="{tip}" y2="{y}" stroke="{stroke}" stroke-width="1.4"{dash}/>"##
    );
    let _ = write!(
        out,
        r##"<path d="M{tip} {y} l{} -4 l0 8 z" fill="{stroke}"/>"##,
        -dir * 8
    );
    let text_x = from_x.min(to_x) + 10;
    let _ = write!(
        out,
        r##"<text x="{text_x}" y="{}" class="label" fill="{stroke}">{}<title>{}</title></text>"##,
        y - 4,
        xml_escape(label),
        xml_escape(full)
    );
}

/// A note box beside lifeline `x`: to its right, or to its left for the rightmost lifeline.
#[allow(clippy::too_many_arguments)]
fn note(out: &mut String, y: i64, x: i64, text: &str, stroke: &str, bold: bool, left: bool) {
    let full = text;
    let text = clip(text, 70);
    let w = (text.chars().count() as f64 * CHAR_WIDTH).ceil() as i64 + 14;
    let box_x = if left { x - 6 - w } else { x + 6 };
    let weight = if bold { r#" font-weight="bold""# } else { "" };
    let _ = write!(
        out,
        r##"<rect x="{box_x}" y="{}" width="{w}" height="16" rx="3" fill="#fffbe6" stroke="{stroke}" stroke-width="0.8"/>"##,
        y - 12
    );
    let _ = write!(
        out,
        r##"<text x="{}" y="{}" class="note" fill="{stroke}"{weight}>{}<title>{}</title></text>"##,
        box_x + 7,
        y,
        xml_escape(&text),
        xml_escape(full)
    );
}
