//! Differential testing against a real server (`smtpsim diff`): generated sessions played
//! against the reference Postfix and against `serve`'s postfix profile (the same server code,
//! in this process), compared reply by reply; each difference in code, enhanced code or close
//! is shrunk to its shortest session and printed as a parity script.
//!
//! - [`gen`]: the seeded session generator;
//! - [`script`]: the parity script format and the player;
//! - [`known`]: the known divergences and their reasons;
//! - [`client`]: the client side (`smtpsim diff --client`): real client programs against
//!   their client profiles;
//! - [`interceptor`]: the middle (`smtpsim diff --interceptor`): real SMTP proxies against
//!   their interceptor presets;
//! - [`runner`]: what those two behaviour differentials share (run, confirm, shrink, report).

pub mod client;
pub mod gen;
pub mod interceptor;
pub mod known;
pub mod runner;
pub mod script;

use crate::profile::ServerConfig;
use script::{Replies, Step, Waits};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the reference is set up (`tests/parity/start-postfix.sh`): its mailboxes and local
/// domains, and no error delays on the port `smtpsim diff` uses (10026).
pub fn reference_config() -> ServerConfig {
    let mut cfg = ServerConfig::preset("postfix").expect("postfix preset");
    cfg.mailboxes = gen::LOCAL_USERS
        .iter()
        .map(|u| format!("{u}@example.org"))
        .collect();
    // Postfix also takes the address literal of the interface it listens on as local.
    cfg.local_domains = vec![
        "example.org".into(),
        "localhost".into(),
        "[127.0.0.1]".into(),
    ];
    cfg.error_sleep = crate::proto::dur::Dur::default();
    cfg
}

/// What `smtpsim diff` runs.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// The reference server, HOST:PORT.
    pub against: String,
    /// Our server's configuration.
    pub server: ServerConfig,
    /// The first session (each session is its own seed).
    pub seed: u64,
    /// How many sessions.
    pub sessions: u64,
    /// Sessions played at once.
    pub jobs: usize,
    /// Start no new session after this long.
    pub budget: Option<Duration>,
    /// Shrink each kind of difference to its shortest session.
    pub shrink: bool,
    /// Our side offers STARTTLS (as the reference does unless its TLS level is `none`).
    pub tls: bool,
}

/// How one session compared.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Every reply the same.
    Same,
    /// Codes, enhanced codes and close the same; some texts differ.
    Text(Vec<Mismatch>),
    /// Stopped at a known divergence (its id).
    Known(String),
    /// A difference in code, enhanced code or close (the first one).
    Code(Mismatch),
}

/// One reply that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What provoked it (`VERB`, `content`, `banner`, `end`).
    pub after: String,
    /// The reference's reply (or `<nothing>`).
    pub real: String,
    /// Ours.
    pub ours: String,
}

impl Mismatch {
    /// The kind of difference: the same for every session that shows it.
    pub fn signature(&self) -> String {
        format!(
            "{}: real {} / smtpsim {}",
            self.after,
            script::codes(&self.real),
            script::codes(&self.ours)
        )
    }

    fn text_signature(&self) -> String {
        format!(
            "{}: real {:?} / smtpsim {:?}",
            self.after, self.real, self.ours
        )
    }
}

const NOTHING: &str = "<nothing>";

/// The line that provoked each reply of `replies` (None for the banner), by framing what
/// was sent the way Postfix does: a bare LF ends a line, message content is answered once at
/// its `.`, a `BDAT n` chunk is n bytes.
pub fn provokers(steps: &[Step], replies: &[String]) -> Vec<Option<Vec<u8>>> {
    let stream: Vec<u8> = steps.iter().flat_map(|s| s.bytes.iter().copied()).collect();
    let mut out = vec![None];
    let mut i = 0;
    let mut in_data = false;
    while i < stream.len() && out.len() < replies.len() {
        let end = stream[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(stream.len(), |p| i + p + 1);
        let line = stream[i..end]
            .strip_suffix(b"\n")
            .unwrap_or(&stream[i..end]);
        let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
        i = end;
        if in_data {
            if line == b"." {
                in_data = false;
                out.push(Some(line));
            }
            continue;
        }
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"BDAT") {
            let size = String::from_utf8_lossy(&line[4..])
                .split_ascii_whitespace()
                .next()
                .and_then(|w| w.parse::<usize>().ok());
            if let Some(n) = size {
                i = (i + n).min(stream.len());
            }
        }
        let reply = replies.get(out.len()).map(String::as_str).unwrap_or("");
        in_data = reply.starts_with("354");
        out.push(Some(line));
    }
    out
}

/// The word naming what provoked a reply.
fn provoker_name(line: Option<&Option<Vec<u8>>>) -> String {
    match line {
        None => "end".into(),
        Some(None) => "banner".into(),
        Some(Some(l)) if l == b"." => "end of data".into(),
        Some(Some(l)) => {
            let text = String::from_utf8_lossy(l);
            match text.split_ascii_whitespace().next() {
                Some(w) if w.len() <= 12 && w.bytes().all(|b| b.is_ascii_alphabetic()) => {
                    let verb = w.to_ascii_uppercase();
                    match verb.as_str() {
                        "HELO" | "EHLO" | "MAIL" | "RCPT" | "DATA" | "RSET" | "NOOP" | "QUIT"
                        | "VRFY" | "EXPN" | "HELP" | "ETRN" | "AUTH" | "STARTTLS" | "BDAT" => verb,
                        _ => "unknown verb".into(),
                    }
                }
                Some(_) => "odd line".into(),
                None => "empty line".into(),
            }
        }
    }
}

/// Compares two recordings of `steps`.
pub fn compare(steps: &[Step], real: &Replies, ours: &Replies) -> Verdict {
    let lines = provokers(steps, real);
    let known = known::all();
    let mut texts = Vec::new();
    for i in 0..real.len().max(ours.len()) {
        let r = real.get(i).map(String::as_str).unwrap_or(NOTHING);
        let o = ours.get(i).map(String::as_str).unwrap_or(NOTHING);
        if r == o {
            continue;
        }
        let mismatch = Mismatch {
            after: provoker_name(lines.get(i)),
            real: r.to_string(),
            ours: o.to_string(),
        };
        if script::codes(r) == script::codes(o) {
            texts.push(mismatch);
            continue;
        }
        // Sent so far: every line up to the one that provoked this reply (all if unknown).
        let sent: Vec<&[u8]> = match lines.get(i) {
            Some(_) => lines[..=i].iter().flatten().map(Vec::as_slice).collect(),
            None => steps.iter().map(|s| s.bytes.as_slice()).collect(),
        };
        if let Some(k) = known
            .iter()
            .find(|k| sent.iter().any(|line| k.starts_at(line)))
        {
            return Verdict::Known(k.id.clone());
        }
        return Verdict::Code(mismatch);
    }
    if texts.is_empty() {
        Verdict::Same
    } else {
        Verdict::Text(texts)
    }
}

/// Players for the two servers.
struct Sides {
    real: String,
    ours: String,
    waits: Waits,
}

impl Sides {
    /// Plays `steps` on both; Err if a server cannot be reached.
    fn play(&self, steps: &[Step]) -> Result<(Replies, Replies), String> {
        let mut real = script::play(&self.real, steps, self.waits)?;
        // The reference limits connections per client; others may be using it too.
        for _ in 0..20 {
            if !real
                .first()
                .is_some_and(|r| r.starts_with("421") && r.contains("too many connections"))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
            real = script::play(&self.real, steps, self.waits)?;
        }
        let ours = script::play(&self.ours, steps, self.waits)?;
        Ok((real, ours))
    }
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Sessions played on both sides.
    pub sessions: u64,
    /// Replies compared (the longer recording of each session).
    pub replies: u64,
    /// Sessions whose replies are all the same.
    pub same: u64,
    /// Kinds of code difference: signature -> (sessions, first session).
    pub code: BTreeMap<String, (u64, u64)>,
    /// Kinds of text-only difference: signature -> (replies, first session).
    pub text: BTreeMap<String, (u64, u64)>,
    /// Sessions stopped at each known divergence.
    pub known: BTreeMap<String, u64>,
    /// Sessions whose difference did not reproduce when played again.
    pub unstable: Vec<u64>,
}

/// Runs the sessions; prints progress to stderr and the report to stdout. Returns the
/// summary, or Err if a server cannot be reached.
pub fn run(opts: &DiffOptions) -> Result<Summary, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let listener = runtime
        .block_on(crate::net::live_listen("127.0.0.1:0"))
        .map_err(|e| format!("smtpsim's side: {e}"))?;
    let ours = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let serve_opts = crate::live::ServeOptions {
        listen: ours.clone(),
        profile: "postfix".into(),
        server: opts.server.clone(),
        maildir: None,
        faults: crate::fault::FaultPlan::default(),
        seed: opts.seed,
        record: None,
        record_exact: false,
        server_overrides: toml::Table::new(),
        format: crate::format::LiveFormat::Text,
        max_connections: usize::MAX,
        // As the reference: STARTTLS offered (with a certificate made now).
        tls: crate::live::tls::server_setup(opts.tls, None, None, &opts.server.hostname)?.0,
        tls_about: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(crate::live::serve_quietly(listener, serve_opts, async {
        let _ = stopped.await;
    }));
    let sides = Sides {
        real: opts.against.clone(),
        ours,
        waits: Waits {
            reply: Duration::from_secs(2),
            last: Duration::from_secs(2),
        },
    };
    // Fail early and clearly if the reference is not there.
    std::net::TcpStream::connect(&sides.real)
        .map_err(|e| format!("--against {}: {e}", sides.real))?;
    let result = run_sessions(opts, &sides);
    let _ = stop.send(());
    let _ = runtime.block_on(server);
    result
}

fn run_sessions(opts: &DiffOptions, sides: &Sides) -> Result<Summary, String> {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let summary = Mutex::new(Summary::default());
    let error = Mutex::new(None::<String>);
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            scope.spawn(|| loop {
                if error.lock().expect("error").is_some()
                    || opts.budget.is_some_and(|b| started.elapsed() >= b)
                {
                    return;
                }
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= opts.sessions {
                    return;
                }
                let seed = opts.seed + n;
                let steps = gen::session(seed);
                let played = sides.play(&steps);
                let (real, ours) = match played {
                    Ok(p) => p,
                    Err(e) => {
                        *error.lock().expect("error") = Some(e);
                        return;
                    }
                };
                let mut verdict = compare(&steps, &real, &ours);
                let mut unstable = false;
                if matches!(verdict, Verdict::Code(_)) {
                    // A real difference plays the same again.
                    if let Ok((real2, ours2)) = sides.play(&steps) {
                        let again = compare(&steps, &real2, &ours2);
                        if !matches!((&verdict, &again), (Verdict::Code(a), Verdict::Code(b)) if a.signature() == b.signature())
                        {
                            unstable = true;
                            verdict = again;
                        }
                    }
                }
                let mut s = summary.lock().expect("summary");
                s.sessions += 1;
                s.replies += real.len().max(ours.len()) as u64;
                if unstable {
                    s.unstable.push(seed);
                }
                match verdict {
                    Verdict::Same => s.same += 1,
                    Verdict::Text(texts) => {
                        for t in texts {
                            let e = s.text.entry(t.text_signature()).or_insert((0, seed));
                            e.0 += 1;
                            e.1 = e.1.min(seed);
                        }
                    }
                    Verdict::Known(id) => *s.known.entry(id).or_default() += 1,
                    Verdict::Code(m) => {
                        let e = s.code.entry(m.signature()).or_insert((0, seed));
                        e.0 += 1;
                        e.1 = e.1.min(seed);
                    }
                }
                let done = s.sessions;
                drop(s);
                if done % 1000 == 0 {
                    eprintln!("# {done} sessions compared");
                }
            });
        }
    });
    if let Some(e) = error.into_inner().expect("error") {
        return Err(e);
    }
    let mut summary = summary.into_inner().expect("summary");
    summary.unstable.sort();
    report(opts, sides, &summary, started.elapsed());
    Ok(summary)
}

/// Removes steps while the same kind of difference remains; returns the shortest session.
fn shrink(sides: &Sides, steps: Vec<Step>, signature: &str) -> Vec<Step> {
    let still = |candidate: &[Step]| match sides.play(candidate) {
        Ok((real, ours)) => {
            matches!(compare(candidate, &real, &ours), Verdict::Code(m) if m.signature() == signature)
        }
        Err(_) => false,
    };
    let mut best = steps;
    let mut tries = 0;
    let mut chunk = best.len().div_ceil(2).max(1);
    while chunk >= 1 && tries < 400 {
        let mut i = 0;
        let mut progressed = false;
        while i < best.len() && tries < 400 {
            let mut candidate = best.clone();
            candidate.drain(i..(i + chunk).min(best.len()));
            tries += 1;
            if !candidate.is_empty() && still(&candidate) {
                best = candidate;
                progressed = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !progressed {
            break;
        }
        chunk = (chunk / 2).max(1);
    }
    best
}

fn report(opts: &DiffOptions, sides: &Sides, s: &Summary, took: Duration) {
    let code_sessions: u64 = s.code.values().map(|(n, _)| n).sum();
    let text_replies: u64 = s.text.values().map(|(n, _)| n).sum();
    let known: u64 = s.known.values().sum();
    println!(
        "smtpsim diff: {} sessions (seeds {}..{}) against {} in {:.0} s: {} replies; {} sessions the same, {} differ in code, enhanced code or close ({} kinds), {} replies differ in text only ({} kinds), {} stopped at a known divergence",
        s.sessions,
        opts.seed,
        opts.seed + s.sessions,
        opts.against,
        took.as_secs_f64(),
        s.replies,
        s.same,
        code_sessions,
        s.code.len(),
        text_replies,
        s.text.len(),
        known
    );
    for (id, n) in &s.known {
        println!("known divergence {id}: {n} sessions");
    }
    if !s.unstable.is_empty() {
        println!(
            "{} sessions differed once and not when played again (seeds {:?})",
            s.unstable.len(),
            s.unstable
        );
    }
    for (sig, (n, seed)) in &s.text {
        println!("text differs: {sig} ({n} replies, first in session {seed})");
    }
    for (i, (sig, (n, seed))) in s.code.iter().enumerate() {
        println!();
        println!("difference {}: {sig}: {n} sessions, first {seed}", i + 1);
        let mut steps = gen::session(*seed);
        if opts.shrink {
            steps = shrink(sides, steps, sig);
        }
        println!(
            "  {} session ({} steps); replay: smtpsim diff --against {} --seed {seed} --sessions 1",
            if opts.shrink { "shortest" } else { "the" },
            steps.len(),
            opts.against
        );
        for line in script::render(&steps).lines() {
            println!("    {line}");
        }
        if let Ok((real, ours)) = sides.play(&steps) {
            println!("  real:    {}", real.join(" ⏎ "));
            println!("  smtpsim: {}", ours.join(" ⏎ "));
        }
    }
}
