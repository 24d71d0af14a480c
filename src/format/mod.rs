//! Every rendering: of a run, the text transcript (the snapshot unit), JSON Lines for tools,
//! pcap for Wireshark/tshark, an SVG sequence diagram for people, and the live printers; of a
//! sweep, the HTML and JUnit reports.

pub mod json;
pub mod junit;
pub mod knobs;
pub mod maillog;
pub mod pcap;
pub mod report;
pub mod summary;
pub mod svg;
pub mod text;

/// `text` escaped for XML and HTML text and attribute values (SVG, the HTML report, JUnit).
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What `smtpsim run --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The fixed-column transcript with verdicts (the snapshot format).
    Text,
    /// One JSON object per line: the run, every event, every message, the verdict.
    Json,
    /// A pcap capture of the simulated packets: handshakes, data, ACKs, retransmissions, FIN, RST.
    Pcap,
    /// A sequence diagram (SVG), one lifeline per actor.
    Svg,
    /// The server's side as Postfix 3.7 logs it (syslog lines from the fixed epoch).
    Maillog,
    /// As maillog, with the dialogue lines `smtpd -v` adds (`< client: RSET`, `> client: 250 ...`).
    MaillogVerbose,
}

impl Format {
    /// The format a file's extension names, if any.
    pub fn of_file(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" | "jsonl" | "ndjson" => Some(Format::Json),
            "pcap" => Some(Format::Pcap),
            "svg" => Some(Format::Svg),
            "txt" => Some(Format::Text),
            "log" | "maillog" => Some(Format::Maillog),
            _ => None,
        }
    }
}

/// What the live modes print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LiveFormat {
    /// Text rows, as the simulation's transcript.
    Text,
    /// JSON Lines, one event per line.
    Json,
    /// The server's side as Postfix 3.7 logs it (`proxy`: each client's side, as an smtpd
    /// would log it).
    Maillog,
    /// As maillog, with the dialogue lines `smtpd -v` adds.
    MaillogVerbose,
}

impl LiveFormat {
    /// Machine formats keep stdout to themselves (the listening line goes to stderr).
    pub fn owns_stdout(self) -> bool {
        self != LiveFormat::Text
    }

    /// The sink that prints events as they happen.
    pub fn printer(self) -> crate::transcript::Tap {
        match self {
            LiveFormat::Text => text::printer(false),
            LiveFormat::Json => text::printer(true),
            LiveFormat::Maillog => maillog::printer(false),
            LiveFormat::MaillogVerbose => maillog::printer(true),
        }
    }
}

/// Renders a run in `format`.
pub fn render(format: Format, result: &crate::sim::RunResult, scenario_file: &str) -> Vec<u8> {
    match format {
        Format::Text => text::render(result)
            .replace("<scenario>", scenario_file)
            .into_bytes(),
        Format::Json => json::render(result, scenario_file).into_bytes(),
        Format::Pcap => pcap::render(&result.packets),
        Format::Svg => svg::render(result).into_bytes(),
        Format::Maillog => maillog::render(result, false).into_bytes(),
        Format::MaillogVerbose => maillog::render(result, true).into_bytes(),
    }
}
