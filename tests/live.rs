//! Live mode against real third-party software on 127.0.0.1: Postfix's smtp-source and
//! smtp-sink, swaks, Python's smtplib, and raw sockets for the robustness cases. Every
//! process a test starts is stopped when the test ends. When a tool is missing the test
//! fails with `SMTPSIM_REQUIRE_TOOLS=1` (`.ci/run` installs it and sets that) and is skipped,
//! with a note counted in the run's summary, elsewhere.

#[path = "support/skip.rs"]
mod skip;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A child process killed (SIGTERM, then SIGKILL) when dropped; stdout and stderr collected.
struct Proc {
    child: Child,
    output: std::sync::Arc<std::sync::Mutex<String>>,
    errors: std::sync::Arc<std::sync::Mutex<String>>,
}

/// Collects a child's pipe, line by line, into `into`.
fn collect(pipe: impl Read + Send + 'static, into: std::sync::Arc<std::sync::Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut out = into.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
}

impl Proc {
    /// Starts `smtpsim ARGS` and waits for its "listening on ADDR" line.
    fn smtpsim(args: &[&str]) -> (Proc, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_smtpsim"));
        command.args(args);
        Proc::start(command)
    }

    /// Starts `smtpsim ARGS` with at most `files` open file descriptors.
    fn smtpsim_with_fd_limit(files: u32, args: &[&str]) -> (Proc, String) {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_smtpsim"))
            .args(args);
        Proc::start(command)
    }

    fn start(mut command: Command) -> (Proc, String) {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("smtpsim starts");
        let errors = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        collect(child.stderr.take().expect("piped"), errors.clone());
        let stdout = child.stdout.take().expect("piped");
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).expect("banner line");
        let addr = first
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no listening line: {first:?}"))
            .to_string();
        let output = std::sync::Arc::new(std::sync::Mutex::new(first));
        collect(reader, output.clone());
        let proc = Proc {
            child,
            output,
            errors,
        };
        (proc, addr)
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// What the process wrote on stderr so far.
    fn errors(&self) -> String {
        self.errors.lock().unwrap().clone()
    }

    /// SIGKILL, and reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait up to `grace` for a clean exit.
    fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.terminate(Duration::from_secs(2)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// True if `tool` is installed; otherwise the test skips (fails with SMTPSIM_REQUIRE_TOOLS=1).
fn have(tool: &str) -> bool {
    skip::find(tool, &[]).is_some()
}

fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "smtpsim-live-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn wait_for(mut cond: impl FnMut() -> bool, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        sleep(Duration::from_millis(25));
    }
    cond()
}

/// A raw SMTP conversation: read the banner, then for each line send it and read one reply.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        let banner = raw.reply();
        assert!(banner.starts_with("220"), "{banner}");
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// One complete reply (multi-line joined with \n), or "" at EOF.
    fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                let last = text.len() < 4 || text.as_bytes()[3] == b' ';
                lines.push(text);
                if last {
                    return lines.join("\n");
                }
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return lines.join("\n"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Whether a new connection gets the banner.
    fn try_connect(addr: &str) -> bool {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut code = [0u8; 3];
        stream.read_exact(&mut code).is_ok() && &code == b"220"
    }
}

const LOCAL: &str = "--set=local_domains=[\"example.org\"]";

#[test]
fn smtp_source_500_messages_over_10_sessions_land_in_the_maildir_intact() {
    if !have("smtp-source") {
        return;
    }
    let dir = temp_dir("source");
    let maildir = dir.join("Maildir");
    let message = dir.join("message.txt");
    std::fs::write(
        &message,
        "Subject: load\n\nline one\n.line with a leading dot\nlast line\n",
    )
    .unwrap();
    let (server, addr) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        LOCAL,
        "--maildir",
        maildir.to_str().unwrap(),
    ]);
    let status = Command::new("smtp-source")
        .args([
            "-s",
            "10",
            "-m",
            "500",
            "-f",
            "alice@example.org",
            "-t",
            "bob@example.org",
            "-F",
            message.to_str().unwrap(),
            &addr,
        ])
        .status()
        .expect("smtp-source runs");
    assert!(status.success());
    let new = maildir.join("new");
    assert!(
        wait_for(|| files_in(&new).len() == 500, Duration::from_secs(10)),
        "{} files",
        files_in(&new).len()
    );
    for file in files_in(&new) {
        let body = std::fs::read(&file).unwrap();
        // smtp-source sends the file with CRLF line ends and one CRLF appended.
        assert_eq!(
            body,
            b"Subject: load\r\n\r\nline one\r\n.line with a leading dot\r\nlast line\r\n\r\n",
            "{}",
            file.display()
        );
    }
    assert!(
        files_in(&maildir.join("tmp")).is_empty(),
        "nothing left half-written"
    );
    drop(server);
}

fn smtplib(addr: &str, script: &str) -> String {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let program = format!("import smtplib\ns = smtplib.SMTP({host:?}, {port})\n{script}\n");
    let out = Command::new("python3")
        .args(["-c", &program])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn swaks_and_smtplib_deliver_through_every_server_profile() {
    if !have("swaks") || !have("python3") {
        return;
    }
    for profile in ["postfix", "postfix-relaxed", "exchange"] {
        let dir = temp_dir(profile);
        let (server, addr) = Proc::smtpsim(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--profile",
            profile,
            LOCAL,
            "--maildir",
            dir.to_str().unwrap(),
        ]);
        let out = Command::new("swaks")
            .args([
                "--server",
                &addr,
                "--from",
                "alice@example.org",
                "--to",
                "bob@example.org",
                "--body",
                "via swaks",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{profile}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let printed = smtplib(&addr, "s.ehlo('ws1.example.org')\nprint(s.sendmail('alice@example.org', ['bob@example.org'], 'Subject: x\\r\\n\\r\\nvia smtplib\\r\\n'))\ns.quit()");
        assert_eq!(printed.trim(), "{}", "{profile}: no refused recipients");
        assert!(
            wait_for(
                || files_in(&dir.join("new")).len() == 2,
                Duration::from_secs(5)
            ),
            "{profile}"
        );
        drop(server);
    }
}

#[test]
fn a_bare_helo_fails_on_postfix_and_passes_on_postfix_relaxed_as_in_the_simulation() {
    if !have("python3") {
        return;
    }
    let script = "print(s.docmd('HELO'))\ns.quit()";
    let (strict, addr) =
        Proc::smtpsim(&["serve", "--listen", "127.0.0.1:0", "--profile", "postfix"]);
    assert_eq!(
        smtplib(&addr, script).trim(),
        "(501, b'Syntax: HELO hostname')"
    );
    drop(strict);
    let (relaxed, addr) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--profile",
        "postfix-relaxed",
    ]);
    assert_eq!(smtplib(&addr, script).trim(), "(250, b'mail.example.org')");
    drop(relaxed);
    // The simulation's bare-helo-postfix sim shows the same reply.
    let sim = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/snapshots/sims@bare-helo-postfix.toml.snap"
    ))
    .unwrap();
    assert!(sim.contains("server -> client       501 Syntax: HELO hostname"));
}

#[test]
fn the_symantec_telnet_proxy_in_front_of_smtp_sink() {
    if !have("smtp-sink") || !have("swaks") {
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sink_addr = format!("127.0.0.1:{port}");
    let mut sink = Command::new("smtp-sink")
        .args(["-u", "nobody", "-v", &sink_addr, "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("smtp-sink starts");
    assert!(wait_for(
        || TcpStream::connect(&sink_addr).is_ok(),
        Duration::from_secs(5)
    ));
    let sink_log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    for pipe in [
        sink.stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        sink.stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let log = sink_log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    let (proxy, addr) = Proxy::start(&sink_addr);

    // swaks: sees the proxy's 354; the sink sees DATA only after QUIT.
    let out = Command::new("swaks")
        .args([
            "--server",
            &addr,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--body",
            "held",
        ])
        .output()
        .unwrap();
    let swaks = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        swaks.contains("<-  354 Please start mail input."),
        "{swaks}"
    );
    assert!(wait_for(
        || sink_log.lock().unwrap().contains("smtp-sink: disconnect"),
        Duration::from_secs(5)
    ));
    let log = sink_log.lock().unwrap().clone();
    let commands: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("smtp-sink: "))
        .filter(|l| {
            ["EHLO", "MAIL", "RCPT", "DATA", ".", "QUIT", "NOOP"]
                .iter()
                .any(|c| l.starts_with(c))
        })
        .collect();
    let data = commands
        .iter()
        .position(|c| *c == "DATA")
        .expect("DATA reaches the sink");
    assert!(commands[..data].iter().any(|c| c.starts_with("RCPT")));
    assert_eq!(&commands[data..], ["DATA", ".", "QUIT"]);

    // A slow typist: NOOP keepalives reach the sink while the body is typed.
    sink_log.lock().unwrap().clear();
    let mut raw = Raw::connect(&addr);
    assert!(raw.cmd("HELO ws1.example.org").starts_with("250"));
    assert!(raw.cmd("MAIL FROM:<a@example.org>").starts_with("250"));
    assert!(raw.cmd("RCPT TO:<b@example.org>").starts_with("250"));
    assert_eq!(raw.cmd("DATA"), "354 Please start mail input.");
    raw.send(b"Subject: typed\r\n\r\n");
    sleep(Duration::from_millis(2500));
    raw.send(b"done\r\n");
    assert!(raw.cmd(".").starts_with("250"));
    let before_quit = sink_log.lock().unwrap().clone();
    assert!(before_quit.contains("smtp-sink: NOOP"), "{before_quit}");
    assert!(
        !before_quit.contains("smtp-sink: DATA"),
        "DATA must wait for QUIT: {before_quit}"
    );
    assert!(raw.cmd("QUIT").starts_with("221"));
    assert!(wait_for(
        || sink_log.lock().unwrap().contains("smtp-sink: DATA"),
        Duration::from_secs(5)
    ));
    drop(proxy);
    let _ = sink.kill();
    let _ = sink.wait();
}

struct Proxy;

impl Proxy {
    fn start(upstream: &str) -> (Proc, String) {
        Proc::smtpsim(&[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
            "--profile",
            "symantec-telnet",
            "--set",
            "keepalive_interval=1s",
        ])
    }
}

#[test]
fn malformed_input_gets_the_right_reply_and_the_server_keeps_going() {
    let (server, addr) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        LOCAL,
        "--set",
        "timeout=2s",
    ]);
    let mut raw = Raw::connect(&addr);
    // Over the 2048-byte line limit: cut without an error (Postfix), then business as usual.
    let long = format!("NOOP {}", "x".repeat(5000));
    assert_eq!(raw.cmd(&long), "250 2.0.0 Ok");
    assert_eq!(raw.cmd("NOOP"), "250 2.0.0 Ok");
    // Bare LF ends a command line.
    raw.send(b"NOOP\n");
    assert_eq!(raw.reply(), "250 2.0.0 Ok");
    // NUL bytes inside a command: an unknown command, not a crash.
    raw.send(b"NO\0OP\r\n");
    assert_eq!(raw.reply(), "500 5.5.2 Error: command not recognized");
    assert!(raw.cmd("HELO ws1.example.org").starts_with("250"));
    // Binary garbage that starts with a non-letter: Postfix's hang-up for non-SMTP input.
    raw.send(&[0xff, 0xfe, 0x01, b'\r', b'\n']);
    assert_eq!(
        raw.reply(),
        "221 2.7.0 Error: I can break rules, too. Goodbye."
    );
    // A client that never finishes its line is timed out.
    let mut slow = Raw::connect(&addr);
    slow.send(b"MAIL FROM:<a@example.org");
    let started = Instant::now();
    assert_eq!(
        slow.reply(),
        "421 4.4.2 mail.example.org Error: timeout exceeded"
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
    // Still serving.
    let mut fresh = Raw::connect(&addr);
    assert_eq!(fresh.cmd("QUIT"), "221 2.0.0 Bye");
    drop(server);
}

#[test]
fn a_thousand_idle_connections_are_all_served() {
    let (server, addr) = Proc::smtpsim(&["serve", "--listen", "127.0.0.1:0"]);
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(Raw::connect(&addr));
    }
    let mut probe = Raw::connect(&addr);
    assert_eq!(probe.cmd("NOOP"), "250 2.0.0 Ok");
    for conn in idle.iter_mut().step_by(97) {
        assert_eq!(conn.cmd("NOOP"), "250 2.0.0 Ok");
    }
    drop(idle);
    drop(server);
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_50_mb_message_streams_to_disk_with_flat_memory() {
    let dir = temp_dir("big");
    let (server, addr) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        LOCAL,
        "--set",
        "message_size_limit=60000000",
        "--maildir",
        dir.to_str().unwrap(),
    ]);
    let mut raw = Raw::connect(&addr);
    assert!(raw.cmd("EHLO ws1.example.org").starts_with("250"));
    assert!(raw.cmd("MAIL FROM:<a@example.org>").starts_with("250"));
    assert!(raw.cmd("RCPT TO:<bob@example.org>").starts_with("250"));
    assert!(raw.cmd("DATA").starts_with("354"));
    let line = format!(
        "{}\r\n",
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123456789"
    );
    let lines = 50 * 1024 * 1024 / line.len() + 1;
    let chunk = line.repeat(1000);
    for _ in 0..lines / 1000 {
        raw.send(chunk.as_bytes());
    }
    raw.send(line.repeat(lines % 1000).as_bytes());
    raw.send(b".\r\n");
    let reply = raw.reply();
    assert!(reply.starts_with("250 2.0.0 Ok: queued as"), "{reply}");
    let files = files_in(&dir.join("new"));
    assert_eq!(files.len(), 1);
    let size = std::fs::metadata(&files[0]).unwrap().len();
    assert_eq!(size, (lines * line.len()) as u64);
    let peak = peak_rss_kib(server.child.id());
    eprintln!("peak RSS of serve while receiving {size} bytes: {peak} KiB");
    assert!(
        peak > 0 && peak < 40 * 1024,
        "peak RSS {peak} KiB: memory is not flat"
    );
    drop(server);
}

#[test]
fn shutdown_lets_sessions_finish_and_leaves_nothing_half_written() {
    let dir = temp_dir("shutdown");
    let (mut server, addr) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        LOCAL,
        "--maildir",
        dir.to_str().unwrap(),
    ]);
    let mut raw = Raw::connect(&addr);
    assert!(raw.cmd("HELO ws1.example.org").starts_with("250"));
    assert!(raw.cmd("MAIL FROM:<a@example.org>").starts_with("250"));
    assert!(raw.cmd("RCPT TO:<bob@example.org>").starts_with("250"));
    assert!(raw.cmd("DATA").starts_with("354"));
    raw.send(b"Subject: cut short\r\n\r\nhalf a message\r\n");
    sleep(Duration::from_millis(200));
    assert!(
        !files_in(&dir.join("tmp")).is_empty(),
        "content is streamed to tmp/"
    );
    // Shutdown: the grace period runs out on this stalled session, which is then cut.
    let status = server
        .terminate(Duration::from_secs(15))
        .expect("exits after its grace period");
    assert!(status.success());
    assert!(files_in(&dir.join("new")).is_empty());
    assert!(
        files_in(&dir.join("tmp")).is_empty(),
        "the cut message was removed from tmp/"
    );
    assert!(server.output().contains("cutting 1 sessions"));
}

#[test]
fn a_recorded_swaks_session_replays_in_the_simulation_with_the_same_commands() {
    if have("swaks") {
        record_swaks_and_replay(false);
    }
}

#[test]
fn a_recorded_swaks_tls_session_replays_with_starttls_in_the_simulation() {
    if have("swaks") {
        record_swaks_and_replay(true);
    }
}

/// swaks against `serve --record` (with `--tls` on both if `tls`), then the recording replayed
/// in the simulation: the replay sends what swaks sent (inside TLS after STARTTLS, when on).
fn record_swaks_and_replay(tls: bool) {
    let dir = temp_dir(if tls { "record-tls" } else { "record" });
    let file = dir.join("swaks-session.toml");
    let mut serve = vec!["serve", "--listen", "127.0.0.1:0", LOCAL, "--record"];
    serve.push(file.to_str().unwrap());
    if tls {
        serve.push("--tls");
    }
    let (mut server, addr) = Proc::smtpsim(&serve);
    let out = Command::new("swaks")
        .args(tls.then_some("--tls"))
        .args([
            "--server",
            &addr,
            "--from",
            "alice@example.org",
            "--to",
            "bob@example.org,carol@example.org",
            "--body",
            "replay me",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        wait_for(|| file.exists(), Duration::from_secs(5)),
        "the session was written when it ended"
    );
    server.terminate(Duration::from_secs(15));
    let live: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(" -> ").or_else(|| l.strip_prefix(" ~> ")))
        .map(str::to_string)
        .collect();

    let scenario =
        smtpsim::scenario::Scenario::load(&file).expect("the recording is a valid scenario");
    assert_eq!(scenario.client_profile, "script");
    let result = smtpsim::sim::run(&scenario, 0).expect("replays");
    let sent: String = result
        .events
        .iter()
        .filter(|e| e.from == "client" && e.to == "server")
        .filter_map(|e| match &e.kind {
            smtpsim::transcript::EventKind::Data(b) => {
                Some(String::from_utf8_lossy(b).into_owned())
            }
            _ => None,
        })
        .collect();
    // swaks prints each line it sent; the replay's bytes split the same way (the last
    // CRLF leaves an empty tail).
    let replayed: Vec<&str> = sent
        .strip_suffix("\r\n")
        .unwrap_or(&sent)
        .split("\r\n")
        .collect();
    assert_eq!(
        replayed, live,
        "the simulated client sends exactly what swaks sent"
    );
    assert_eq!(result.report.messages.len(), 1);
    assert_eq!(
        result.report.messages[0].to,
        ["bob@example.org", "carol@example.org"]
    );
    assert_eq!(
        result.report.messages[0].verdict,
        smtpsim::oracle::Verdict::Delivered
    );
    let handshakes = result
        .events
        .iter()
        .filter(|e| matches!(e.kind, smtpsim::transcript::EventKind::Tls(_)))
        .count();
    assert_eq!(
        handshakes,
        if tls { 2 } else { 0 },
        "client and server note the handshake"
    );
}

#[test]
fn serve_accepts_mail_out_of_the_box_and_applies_postfix_policy_once_local_mail_is_named() {
    if !have("swaks") {
        return;
    }
    let dir = temp_dir("out-of-the-box");
    let (server, addr) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--maildir",
        dir.to_str().unwrap(),
    ]);
    let out = Command::new("swaks")
        .args(["--server", &addr, "--to", "bob@example.org", "--body", "hi"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(wait_for(
        || files_in(&dir.join("new")).len() == 1,
        Duration::from_secs(5)
    ));
    drop(server);

    // Naming the local mail brings back Postfix's relay denial.
    let (server, addr) = Proc::smtpsim(&["serve", "--listen", "127.0.0.1:0", LOCAL]);
    let mut raw = Raw::connect(&addr);
    raw.cmd("EHLO ws1.example.org");
    assert!(raw.cmd("MAIL FROM:<alice@example.org>").starts_with("250"));
    assert_eq!(
        raw.cmd("RCPT TO:<someone@elsewhere.example>"),
        "454 4.7.1 <someone@elsewhere.example>: Relay access denied"
    );
    assert!(raw.cmd("RCPT TO:<bob@example.org>").starts_with("250"));
    drop(server);
}

#[test]
fn a_client_beyond_max_connections_gets_421_and_the_server_recovers() {
    let (server, addr) =
        Proc::smtpsim(&["serve", "--listen", "127.0.0.1:0", "--max-connections", "5"]);
    let mut open: Vec<Raw> = (0..5).map(|_| Raw::connect(&addr)).collect();
    let mut sixth = TcpStream::connect(&addr).unwrap();
    sixth
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut refused = String::new();
    sixth.read_to_string(&mut refused).unwrap();
    assert_eq!(
        refused,
        "421 4.7.0 mail.example.org Error: too many connections\r\n"
    );
    // One session ends; the next client is served again.
    assert_eq!(open.pop().unwrap().cmd("QUIT"), "221 2.0.0 Bye");
    assert!(wait_for(|| Raw::try_connect(&addr), Duration::from_secs(5)));
    // The transcript is read off the server's stdout by a thread: give it a moment.
    assert!(wait_for(
        || server
            .output()
            .contains("sessions running (--max-connections); answered 421"),
        Duration::from_secs(5)
    ));
    drop(open);
}

#[test]
fn out_of_file_descriptors_gives_421s_never_a_crash() {
    let (mut server, addr) = Proc::smtpsim_with_fd_limit(64, &["serve", "--listen", "127.0.0.1:0"]);
    let mut open = Vec::new();
    let mut refusals = 0;
    for _ in 0..120 {
        let mut conn = TcpStream::connect(&addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut first = [0u8; 9];
        conn.read_exact(&mut first).unwrap();
        match &first {
            b"220 mail." => open.push(conn),
            b"421 4.3.2" => refusals += 1,
            other => panic!("{:?}", String::from_utf8_lossy(other)),
        }
    }
    assert!(open.len() > 30, "{} sessions before the limit", open.len());
    assert!(refusals > 0, "the limit was never reached");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    // Descriptors come back as sessions end.
    drop(open);
    assert!(wait_for(|| Raw::try_connect(&addr), Duration::from_secs(5)));
    assert!(wait_for(
        || server.output().contains("out of file descriptors"),
        Duration::from_secs(5)
    ));
}

#[test]
fn slow_clients_are_cut_at_the_timeout_while_others_are_served() {
    if !have("smtp-source") {
        return;
    }
    let dir = temp_dir("slow");
    let (server, addr) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--maildir",
        dir.to_str().unwrap(),
        "--set",
        "timeout=3s",
        "--set",
        "per_record_deadline=true",
    ]);
    // 200 slowloris clients: a command line one byte a second, never finished.
    let slow: Vec<std::thread::JoinHandle<String>> = (0..200)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(&addr).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let mut got = Vec::new();
                for _ in 0..10 {
                    if conn.write_all(b"X").is_err() {
                        break;
                    }
                    sleep(Duration::from_secs(1));
                }
                let _ = conn.read_to_end(&mut got);
                String::from_utf8_lossy(&got).into_owned()
            })
        })
        .collect();
    sleep(Duration::from_millis(500));
    let out = Command::new("smtp-source")
        .args([
            "-s",
            "10",
            "-m",
            "300",
            "-f",
            "alice@example.org",
            "-t",
            "bob@example.org",
            &addr,
        ])
        .output()
        .expect("smtp-source runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        files_in(&dir.join("new")).len(),
        300,
        "every normal message delivered"
    );
    for handle in slow {
        let seen = handle.join().unwrap();
        assert!(seen.starts_with("220 "), "{seen}");
        assert!(
            seen.ends_with("421 4.4.2 mail.example.org Error: timeout exceeded\r\n"),
            "{seen}"
        );
    }
    drop(server);
}

/// One client for the crash test: sends numbered messages of `lines` pattern lines, back to
/// back, until the server goes away; returns the ids the server acknowledged with a 250.
fn crash_test_client(addr: String, first_id: u32, lines: usize) -> Vec<u32> {
    let mut acked = Vec::new();
    let Ok(stream) = TcpStream::connect(&addr) else {
        return acked;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut raw = Raw {
        stream,
        buf: Vec::new(),
    };
    let ok = |raw: &mut Raw, bytes: &[u8], code: &str| {
        raw.stream.write_all(bytes).is_ok() && raw.reply().starts_with(code)
    };
    if !raw.reply().starts_with("220") || !ok(&mut raw, b"EHLO crash.example\r\n", "250") {
        return acked;
    }
    for id in first_id.. {
        let envelope = ok(&mut raw, b"MAIL FROM:<a@example.org>\r\n", "250")
            && ok(&mut raw, b"RCPT TO:<b@example.org>\r\n", "250")
            && ok(&mut raw, b"DATA\r\n", "354");
        if !envelope {
            return acked;
        }
        let mut body = format!("X-Crash-Test: {id} {lines}\r\n\r\n").into_bytes();
        for n in 0..lines {
            body.extend_from_slice(format!("{id:08} {n:08} {}\r\n", "x".repeat(58)).as_bytes());
        }
        body.extend_from_slice(format!("END {id}\r\n.\r\n").as_bytes());
        if !ok(&mut raw, &body, "250") {
            return acked;
        }
        acked.push(id);
    }
    acked
}

/// A file in `new/` is one whole crash-test message: its header, every pattern line, its end.
fn check_crash_test_message(path: &Path) -> u32 {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.split_inclusive("\r\n");
    let header = lines.next().unwrap_or_default();
    let mut words = header
        .strip_prefix("X-Crash-Test: ")
        .unwrap_or_else(|| panic!("{}: no header: {header:?}", path.display()))
        .split_whitespace();
    let id: u32 = words.next().unwrap().parse().unwrap();
    let count: usize = words.next().unwrap().parse().unwrap();
    assert_eq!(lines.next(), Some("\r\n"), "{}", path.display());
    for n in 0..count {
        let expected = format!("{id:08} {n:08} {}\r\n", "x".repeat(58));
        assert_eq!(
            lines.next(),
            Some(expected.as_str()),
            "{}: line {n}",
            path.display()
        );
    }
    assert_eq!(
        lines.next(),
        Some(format!("END {id}\r\n").as_str()),
        "{}",
        path.display()
    );
    assert_eq!(lines.next(), None, "{}: trailing bytes", path.display());
    id
}

/// `kill -9` of `serve --maildir` while three clients stream 1.4 MB messages into it, again and
/// again: `new/` only ever holds whole messages, every message acknowledged with a 250 is
/// there, and the partial files left in `tmp/` are removed (and reported) at the next start.
/// SMTPSIM_KILL_ITERATIONS sets the number of kills (default 8; the issue's bar is 50).
#[test]
fn kill_9_mid_message_leaves_only_whole_messages_in_new_and_tmp_is_cleaned_at_restart() {
    let iterations: u32 = std::env::var("SMTPSIM_KILL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let dir = temp_dir("kill9");
    let maildir = dir.join("Maildir");
    let maildir_arg = maildir.to_str().unwrap().to_string();
    let mut acked_all = Vec::new();
    let mut killed_mid_message = 0;
    for round in 0..iterations {
        let (mut server, addr) = Proc::smtpsim(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--maildir",
            &maildir_arg,
        ]);
        let left = files_in(&maildir.join("tmp"));
        assert!(
            left.is_empty(),
            "round {round}: tmp/ not cleaned at start: {left:?}"
        );
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let addr = addr.clone();
                let first = (round * 3 + c) * 100_000;
                std::thread::spawn(move || crash_test_client(addr, first, 20_000))
            })
            .collect();
        // Kill at a different point of the stream each round.
        sleep(Duration::from_millis(40 + u64::from(round * 97 % 400)));
        server.kill();
        for client in clients {
            acked_all.extend(client.join().unwrap());
        }
        let tmp = files_in(&maildir.join("tmp"));
        if !tmp.is_empty() {
            killed_mid_message += 1;
        }
        let stored: Vec<u32> = files_in(&maildir.join("new"))
            .iter()
            .map(|p| check_crash_test_message(p))
            .collect();
        for id in &acked_all {
            assert!(
                stored.contains(id),
                "round {round}: acknowledged message {id} lost"
            );
        }
        // The partial files are the messages being sent when the process died.
        let restart_removes = tmp.len();
        if restart_removes > 0 {
            let (server, _) = Proc::smtpsim(&[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--maildir",
                &maildir_arg,
            ]);
            assert!(
                files_in(&maildir.join("tmp")).is_empty(),
                "round {round}: tmp/ kept"
            );
            let expected = format!("removed {restart_removes} incomplete message(s)");
            assert!(
                wait_for(
                    || server.errors().contains(&expected),
                    Duration::from_secs(5)
                ),
                "round {round}: no report of {expected:?} on stderr: {}",
                server.errors()
            );
        }
    }
    eprintln!(
        "{iterations} kills, {killed_mid_message} of them mid-message; {} messages acknowledged, all whole in new/",
        acked_all.len()
    );
    assert!(killed_mid_message > 0, "no kill hit a message in progress");
    assert!(!acked_all.is_empty(), "no message completed before a kill");
    let _ = std::fs::remove_dir_all(&dir);
}

/// At start, `serve --maildir` removes from `tmp/` what no running writer can own (its own
/// files whose process is gone; anything untouched for 36 hours, the Maildir convention) and
/// keeps the rest: a live writer's file, another program's fresh file.
#[test]
fn serve_clears_only_abandoned_files_from_tmp_at_start() {
    let dir = temp_dir("stale-tmp");
    let tmp = dir.join("Maildir/tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // A pid that is certainly not running: beyond the kernel's pid_max.
    let dead = "1700000000.P4194305Q0.smtpsim";
    let live = "1700000000.P1Q0.smtpsim";
    let others_fresh = "1700000000.M1P2.otherhost";
    let others_old = "1600000000.M1P3.otherhost";
    for name in [dead, live, others_fresh, others_old] {
        std::fs::write(tmp.join(name), b"partial").unwrap();
    }
    let touched = Command::new("touch")
        .args(["-d", "37 hours ago"])
        .arg(tmp.join(others_old))
        .status()
        .unwrap();
    assert!(touched.success());
    let maildir = dir.join("Maildir");
    let (server, _) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--maildir",
        maildir.to_str().unwrap(),
    ]);
    let names: Vec<String> = files_in(&tmp)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![others_fresh.to_string(), live.to_string()]);
    assert!(
        wait_for(
            || server.errors().contains("removed 2 incomplete message(s)"),
            Duration::from_secs(5)
        ),
        "{}",
        server.errors()
    );
    let errors = server.errors();
    assert!(
        errors.contains(dead) && errors.contains(others_old),
        "{errors}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn swaks_tls_and_smtplib_starttls_deliver_through_serve_tls() {
    if !have("swaks") || !have("python3") {
        return;
    }
    let dir = temp_dir("tls");
    let (server, addr) = serve_tls_into(&dir);
    let said = swaks_tls_via(&addr, "via swaks over TLS");
    assert!(said.contains("<-  220 2.0.0 Ready to start TLS"), "{said}");
    assert!(said.contains(" ~> MAIL FROM:<alice@example.org>"), "{said}");
    // smtplib's starttls() does not verify by default: the made-up certificate is fine.
    let printed = smtplib(
        &addr,
        "s.ehlo('ws1.example.org')\nprint(s.starttls()[0])\ns.ehlo('ws1.example.org')\n\
         print(s.has_extn('starttls'))\n\
         print(s.sendmail('alice@example.org', ['bob@example.org'], 'Subject: x\\r\\n\\r\\nvia smtplib over TLS\\r\\n'))\ns.quit()",
    );
    assert_eq!(
        printed.split_whitespace().collect::<Vec<_>>(),
        ["220", "False", "{}"]
    );
    assert!(
        wait_for(
            || files_in(&dir.join("new")).len() == 2,
            Duration::from_secs(5)
        ),
        "both messages stored"
    );
    let transcript = server.output();
    assert!(transcript.contains("TLS established"), "{transcript}");
    assert!(transcript.contains("client ~> server"), "{transcript}");
    drop(server);

    // Without --tls, STARTTLS is neither offered nor started: swaks --tls gives up.
    let (plain, addr) = Proc::smtpsim(&["serve", "--listen", "127.0.0.1:0", LOCAL]);
    let out = Command::new("swaks")
        .args(["--server", &addr, "--tls", "--to", "bob@example.org"])
        .output()
        .unwrap();
    // swaks's exit code 29 is its TLS failure.
    assert_eq!(out.status.code(), Some(29));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Host did not advertise STARTTLS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(plain);
}

/// `serve --tls` for the local domain, storing into `dir`.
fn serve_tls_into(dir: &Path) -> (Proc, String) {
    let maildir = dir.to_str().unwrap();
    Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls",
        LOCAL,
        "--maildir",
        maildir,
    ])
}

/// swaks --tls against `server` (serve --tls, or a proxy in front of it); what swaks printed.
fn swaks_tls_via(server: &str, body: &str) -> String {
    let out = Command::new("swaks")
        .args([
            "--server",
            server,
            "--tls",
            "--from",
            "alice@example.org",
            "--to",
            "bob@example.org",
            "--body",
            body,
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(said.contains("=== TLS started with cipher"), "{said}");
    said
}

#[test]
fn proxy_relays_tls_unread_or_intercepts_it_per_profile() {
    if !have("swaks") {
        return;
    }
    let dir = temp_dir("proxy-tls");
    let (server, upstream) = serve_tls_into(&dir);
    // passthrough: STARTTLS goes to the server; the proxy relays records it cannot read.
    let (relay, addr) = Proc::smtpsim(&[
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--profile",
        "passthrough",
    ]);
    swaks_tls_via(&addr, "end to end");
    assert!(wait_for(
        || relay.output().contains("TLS passed through unscanned"),
        Duration::from_secs(5)
    ));
    assert!(
        !relay.output().contains("MAIL FROM:<alice@example.org>"),
        "the proxy read nothing"
    );
    // av-tls-inspect: swaks (which does not verify) talks TLS to the proxy, the proxy to the
    // server, and the proxy reads the whole session.
    let (inspect, addr) = Proc::smtpsim(&[
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--profile",
        "av-tls-inspect",
    ]);
    swaks_tls_via(&addr, "inspected");
    assert!(
        wait_for(
            || inspect
                .output()
                .contains("interceptor ~> server       MAIL FROM:<alice@example.org>"),
            Duration::from_secs(5)
        ),
        "{}",
        inspect.output()
    );
    assert!(wait_for(
        || files_in(&dir.join("new")).len() == 2,
        Duration::from_secs(5)
    ));
    assert!(wait_for(
        || server.output().matches("TLS established").count() == 2,
        Duration::from_secs(5)
    ));
    drop((relay, inspect, server));
}

/// serve --scenario applies the scenario's faults, and each recorded session keeps the faults
/// serve applied to it (renumbered as the recording's only connection), so its replay meets
/// the same server.
#[test]
fn a_recording_keeps_the_faults_its_session_met() {
    if !have("swaks") {
        return;
    }
    let dir = temp_dir("record-faults");
    let scenario = dir.join("faulty.toml");
    std::fs::write(
        &scenario,
        r#"name = "faulty"
[client]
profile = "swaks"

[[client.message]]
from = "alice@example.org"
to = ["bob@example.org"]
body = "x\n"

[server]
profile = "postfix"
hostname = "mail.example.org"
local_domains = ["example.org"]

[[faults.event]]
kind = "server-reply"
connection = 1
stage = "rcpt"
reply = "451 4.3.0 Try again later"

[[faults.event]]
kind = "server-reply"
connection = 2
stage = "mail"
reply = "550 5.7.1 Go away"
"#,
    )
    .unwrap();
    let file = dir.join("session.toml");
    let (mut server, addr) = Proc::smtpsim(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        scenario.to_str().unwrap(),
        "--record",
        file.to_str().unwrap(),
    ]);
    let swaks = |expect_exit: i32| {
        let out = Command::new("swaks")
            .args(["--server", &addr, "--from", "alice@example.org"])
            .args(["--to", "bob@example.org", "--body", "x"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(expect_exit), "{out:?}");
    };
    swaks(24); // every recipient refused
    swaks(23); // the sender refused
    let second = dir.join("session-2.toml");
    assert!(
        wait_for(|| file.exists() && second.exists(), Duration::from_secs(5)),
        "both sessions were written"
    );
    server.terminate(Duration::from_secs(15));

    for (file, reply) in [
        (file, "451 4.3.0 Try again later"),
        (second, "550 5.7.1 Go away"),
    ] {
        let recorded = smtpsim::scenario::Scenario::load(&file).expect("a valid scenario");
        assert_eq!(recorded.fault_events.len(), 1, "{}", recorded.source);
        assert!(
            recorded.source.contains("connection = 1"),
            "renumbered: {}",
            recorded.source
        );
        let result = smtpsim::sim::run(&recorded, 0).expect("replays");
        let text = smtpsim::format::text::render(&result);
        assert!(
            text.contains(reply),
            "the replay meets the same fault: {text}"
        );
    }
}
