//! The machine and human formats: JSON Lines (schema and snapshots), pcap (decoded by the
//! real tshark), SVG (snapshots, and the diagram the README shows).

#[path = "support/skip.rs"]
mod skip;

use smtpsim::format::{self, Format};
use smtpsim::scenario::Scenario;
use smtpsim::transcript::EventKind;
use std::process::Command;

fn run(name: &str) -> smtpsim::sim::RunResult {
    let path = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(path.as_ref()).expect("valid scenario");
    smtpsim::sim::run(&scenario, scenario.seeds[0]).expect("runs")
}

/// A run that keeps its packets (what `run --format pcap` does).
fn run_captured(name: &str) -> smtpsim::sim::RunResult {
    let path = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(path.as_ref()).expect("valid scenario");
    smtpsim::sim::run_captured(&scenario, scenario.seeds[0]).expect("runs")
}

fn render(format: Format, name: &str) -> String {
    String::from_utf8(format::render(
        format,
        &run(name),
        &format!("sims/{name}.toml"),
    ))
    .expect("utf-8")
}

macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn json_follows_the_schema() {
    let result = run("symantec-rset");
    let text = String::from_utf8(format::render(
        Format::Json,
        &result,
        "sims/symantec-rset.toml",
    ))
    .unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines[0]["type"], "run");
    assert_eq!(lines[0]["seed"], 0);
    let events: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "event").collect();
    // Every event but the `smtpd -v` dialogue lines, which repeat the data events.
    let shown: Vec<_> = result
        .events
        .iter()
        .filter(|e| format::json::event_line(e).is_some())
        .collect();
    assert!(shown.len() < result.events.len());
    assert_eq!(events.len(), shown.len());
    for (json, event) in events.iter().zip(shown) {
        assert_eq!(json["t_us"].as_u64().unwrap() as u128, event.at.as_micros());
        assert_eq!(json["from"], event.from.as_str());
        if let EventKind::Data(bytes) = &event.kind {
            let hex = json["hex"].as_str().unwrap();
            let decoded: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            assert_eq!(&decoded, bytes, "hex carries the exact bytes");
        }
    }
    // Field order is fixed: "type" first, then as documented.
    assert!(text.lines().all(|l| l.starts_with("{\"type\":")));
    assert_eq!(lines.iter().filter(|l| l["type"] == "message").count(), 1);
    assert_eq!(lines.last().unwrap()["type"], "verdict");
    assert_eq!(lines.last().unwrap()["passed"], true);
}

#[test]
fn json_snapshots() {
    snapshot!("json@symantec-rset", render(Format::Json, "symantec-rset"));
    snapshot!(
        "json@bare-helo-postfix",
        render(Format::Json, "bare-helo-postfix")
    );
}

#[test]
fn svg_snapshots() {
    snapshot!("svg@symantec-rset", render(Format::Svg, "symantec-rset"));
    snapshot!("svg@rfc821-abort", render(Format::Svg, "rfc821-abort"));
}

#[test]
fn the_readme_diagram_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/symantec-rset.svg");
    let committed = std::fs::read_to_string(path).expect("snapshots/symantec-rset.svg exists");
    assert_eq!(
        committed,
        render(Format::Svg, "symantec-rset"),
        "regenerate: cargo run --release -- run sims/symantec-rset.toml --format svg --output snapshots/symantec-rset.svg"
    );
}

#[test]
fn the_svg_shows_the_scan_as_a_break_and_the_verdict() {
    let svg = render(Format::Svg, "symantec-rset");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(
        svg.contains("⋯ 10.0 s later ⋯"),
        "the 10 s scan is a marked break"
    );
    assert!(svg.contains("354 Please start mail input."));
    assert!(svg.contains("invariants: all held"));
    assert_eq!(svg.matches("<svg").count(), 1);
}

/// Commands and final reply codes per connection, as tshark's SMTP dissector reports them.
fn tshark_tokens(pcap: &[u8]) -> Option<Vec<Vec<String>>> {
    tshark_tokens_with(pcap, None)
}

/// As [`tshark_tokens`], decrypting TLS with the key log lines `keylog`, if any.
fn tshark_tokens_with(pcap: &[u8], keylog: Option<&[String]>) -> Option<Vec<Vec<String>>> {
    let tshark = skip::find("tshark", &[])?;
    // Tests run in parallel threads of one process: each call its own files.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let stem = format!("smtpsim-{}-{n}", std::process::id());
    let file = std::env::temp_dir().join(format!("{stem}.pcap"));
    std::fs::write(&file, pcap).unwrap();
    let keys = std::env::temp_dir().join(format!("{stem}.keys"));
    let mut command = Command::new(tshark);
    if let Some(lines) = keylog {
        std::fs::write(&keys, lines.join("\n") + "\n").unwrap();
        command.args(["-o", &format!("tls.keylog_file:{}", keys.display())]);
    }
    let out = command
        .args([
            "-r",
            file.to_str().unwrap(),
            "-Y",
            "smtp",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "smtp.req.command",
            "-e",
            "smtp.response.code",
        ])
        .output()
        .expect("tshark runs");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&keys);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut streams: Vec<Vec<String>> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut fields = line.split('\t');
        let stream: usize = fields.next().unwrap().parse().unwrap();
        while streams.len() <= stream {
            streams.push(Vec::new());
        }
        for field in fields {
            streams[stream].extend(
                field
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            );
        }
    }
    Some(streams)
}

/// The same tokens from the transcript: per connection, command verbs outside message
/// content, and the code of each reply's last line.
fn transcript_tokens(result: &smtpsim::sim::RunResult) -> Vec<Vec<String>> {
    let mut conns: Vec<u32> = Vec::new();
    let mut tokens: Vec<Vec<String>> = Vec::new();
    let mut in_data: Vec<bool> = Vec::new();
    for e in &result.events {
        let index = match conns.iter().position(|c| *c == e.conn) {
            Some(i) => i,
            None if matches!(e.kind, EventKind::Connect) => {
                conns.push(e.conn);
                tokens.push(Vec::new());
                in_data.push(false);
                conns.len() - 1
            }
            None => continue,
        };
        let EventKind::Data(bytes) = &e.kind else {
            continue;
        };
        for line in String::from_utf8_lossy(bytes)
            .split("\r\n")
            .filter(|l| !l.is_empty())
        {
            let is_reply = line.len() >= 3 && line.as_bytes()[..3].iter().all(u8::is_ascii_digit);
            if is_reply {
                if line.as_bytes().get(3) != Some(&b'-') {
                    tokens[index].push(line[..3].to_string());
                    if &line[..3] == "354" {
                        in_data[index] = true;
                    }
                }
            } else if in_data[index] {
                if line == "." {
                    in_data[index] = false;
                }
            } else {
                tokens[index].push(line.split(' ').next().unwrap().to_string());
            }
        }
    }
    tokens
}

#[test]
fn tshark_decodes_the_pcap_like_the_transcript() {
    for name in ["symantec-rset", "passthrough-baseline"] {
        let result = run_captured(name);
        let pcap = format::render(Format::Pcap, &result, "x");
        let Some(decoded) = tshark_tokens(&pcap) else {
            return;
        };
        let expected = transcript_tokens(&result);
        assert_eq!(decoded, expected, "{name}");
        assert!(expected[1].contains(&"RSET".to_string()) || name != "symantec-rset");
    }
}

#[test]
fn with_the_key_log_tshark_reads_the_smtp_inside_tls() {
    let result = run_captured("postfix-connection-cache");
    let pcap = format::render(Format::Pcap, &result, "x");
    let again = format::render(Format::Pcap, &run_captured("postfix-connection-cache"), "x");
    assert_eq!(pcap, again, "a TLS run's pcap replays byte for byte");
    assert!(!result.keylog.is_empty());
    let Some(decoded) = tshark_tokens_with(&pcap, Some(&result.keylog)) else {
        return;
    };
    // tshark's smtp.req.command keeps four characters (STARTTLS is "STAR").
    let four = |streams: Vec<Vec<String>>| -> Vec<Vec<String>> {
        streams
            .into_iter()
            .map(|s| s.into_iter().map(|t| t.chars().take(4).collect()).collect())
            .collect()
    };
    let expected = four(transcript_tokens(&result));
    assert!(expected[0].iter().filter(|t| *t == "MAIL").count() == 3);
    assert_eq!(four(decoded), expected);
    // Without the keys only what precedes the handshake is SMTP.
    let blind = tshark_tokens(&pcap).expect("tshark is there");
    assert!(!blind[0].contains(&"MAIL".to_string()), "{blind:?}");
}

#[test]
fn split_writes_are_one_arrow_with_a_fragment_count_and_labels_have_tooltips() {
    let path = format!(
        "{}/sims/pix-split-dot-duplicates.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let scenario = Scenario::load(path.as_ref())
        .unwrap()
        .with_fault_profile("lossy-network")
        .unwrap();
    // Seed 11 splits the client's writes into <= 7 bytes.
    let result = smtpsim::sim::run(&scenario, 11).unwrap();
    let svg = String::from_utf8(format::render(Format::Svg, &result, "x")).unwrap();
    assert!(
        svg.contains(
            "EHLO exchange.example.net  [4 fragments]<title>EHLO exchange.example.net</title>"
        ),
        "one arrow for the EHLO written in four pieces"
    );
    let writes = result
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Data(_)))
        .count();
    let data_arrows = svg.matches("class=\"label\"").count()
        - svg.matches(">connect<").count()
        - svg.matches(">close (FIN)<").count();
    assert!(
        writes - data_arrows >= 15,
        "{data_arrows} arrows for {writes} writes"
    );
    assert!(svg.matches(" fragments]").count() >= 5);
    // A clipped note keeps its whole text as a tooltip.
    assert!(svg.contains("<title>end of data split across segments: held back until the client's next segment</title>"));
}

/// Headless Chromium, if installed (CI installs Debian's `chromium`).
fn chromium() -> Option<std::path::PathBuf> {
    skip::find("chromium", &["/usr/bin/chromium-browser"])
}

#[test]
fn the_sweep_report_renders_in_chromium_with_every_failing_seed_drawn() {
    let path = format!("{}/sims/symantec-telnet.toml", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(path.as_ref())
        .unwrap()
        .with_fault_profile("lossy-network")
        .unwrap();
    let file = "sims/symantec-telnet.toml";
    let report = smtpsim::sweep::sweep(&scenario, file, 0..100, 2, None, &smtpsim::sweep::quiet);
    let page = smtpsim::format::report::render(&scenario, file, &report);
    assert!(page.contains("<h3>seed 21</h3>"));
    assert!(
        page.contains("smtpsim shrink sims/symantec-telnet.toml --seed 21 --faults lossy-network")
    );
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("smtpsim-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("report.html");
    std::fs::write(&html, &page).unwrap();
    let url = format!("file://{}", html.display());
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
    ];
    let dom = Command::new(&chromium)
        .args(base)
        .args(["--dump-dom", &url])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let failing = report
        .violations
        .iter()
        .map(|v| v.seed)
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        dom.matches("<section class=\"seed\"").count(),
        failing.len(),
        "as parsed by Chromium"
    );
    assert_eq!(
        dom.matches("<svg").count(),
        failing.len(),
        "each diagram inline"
    );
    assert!(dom.contains("silent-loss"));
    let png = dir.join("report.png");
    let shot = Command::new(chromium)
        .args(base)
        .arg(format!("--screenshot={}", png.display()))
        .args(["--window-size=1200,1600", &url])
        .output()
        .expect("chromium runs");
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "a rendered page, not a blank one: {size} bytes"
    );
    println!("screenshot: {}", png.display());
}
