//! `proxy --scenario` and `serve --scenario`: a scenario's [interceptor] or [server] section
//! live, without retyping its knobs; and the proxy's start-up probe, on by default, off with
//! `--no-probe`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running smtpsim, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts smtpsim with `args` and returns it with the first line of its stdout.
fn start(args: &[&str]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("a listening line");
    (Proc(child), line)
}

/// `proxy --scenario FILE` on a free port, its upstream never used.
fn start_proxy(scenario: &str) -> (Proc, String) {
    start(&[
        "proxy",
        "--scenario",
        scenario,
        "--upstream",
        "127.0.0.1:1",
        "--no-probe",
        "--listen",
        "127.0.0.1:0",
    ])
}

fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether `listener` gets a connection within `wait`.
fn connected_within(listener: &TcpListener, wait: Duration) -> bool {
    listener.set_nonblocking(true).unwrap();
    let until = std::time::Instant::now() + wait;
    while std::time::Instant::now() < until {
        if listener.accept().is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn proxy_and_serve_run_a_scenarios_sections() {
    let (_proxy, line) = start_proxy("sims/symantec-rset.toml");
    assert!(line.contains("· profile symantec-rset"), "{line}");
    let (_serve, line) = start(&[
        "serve",
        "--scenario",
        "bare-helo-relaxed",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(line.contains("· profile postfix-relaxed"), "{line}");

    let err = refused(&[
        "proxy",
        "--scenario",
        "bare-helo-postfix",
        "--upstream",
        "127.0.0.1:1",
    ]);
    assert!(
        err.contains("--scenario bare-helo-postfix: the scenario has no [interceptor] section"),
        "{err}"
    );
    let err = refused(&[
        "proxy",
        "--scenario",
        "symantec-rset",
        "--profile",
        "passthrough",
        "--upstream",
        "127.0.0.1:1",
    ]);
    assert!(err.contains("cannot be used with"), "{err}");
    // --set applies on top of the scenario, and is checked against it.
    let err = refused(&[
        "proxy",
        "--scenario",
        "pix-mailguard",
        "--upstream",
        "127.0.0.1:1",
        "--set",
        "scan_delay=5s",
    ]);
    assert!(err.contains("--set scan_delay has no effect here"), "{err}");
}

#[test]
fn the_start_up_probe_connects_once_unless_turned_off() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = upstream.local_addr().unwrap().to_string();
    let (_proxy, _) = start(&["proxy", "--upstream", &addr, "--listen", "127.0.0.1:0"]);
    assert!(
        connected_within(&upstream, Duration::from_secs(5)),
        "by default the proxy connects once at start"
    );
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = upstream.local_addr().unwrap().to_string();
    let (_proxy, _) = start(&[
        "proxy",
        "--upstream",
        &addr,
        "--listen",
        "127.0.0.1:0",
        "--no-probe",
    ]);
    assert!(
        !connected_within(&upstream, Duration::from_secs(1)),
        "--no-probe: no connection before a client's"
    );
}

/// A file under the system's temporary directory, named for this test process.
fn scenario_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("smtpsim-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_scenario_of_one_side_needs_no_name_and_no_client() {
    let server = scenario_file(
        "server-only.toml",
        "[server]\nprofile = \"postfix-relaxed\"\nhostname = \"mx.one-side.test\"\n\n\
         [[faults.event]]\nkind = \"drop\"\nwriter = \"server\"\nconnection = 2\nafter_bytes = 7\n",
    );
    let (_serve, line) = start(&[
        "serve",
        "--scenario",
        server.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(line.contains("· profile postfix-relaxed"), "{line}");
    assert!(line.contains("· 1 fault events"), "{line}");
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .expect("the address it listens on");
    let banner = |addr: &str| {
        let mut bytes = Vec::new();
        let mut reader = BufReader::new(std::net::TcpStream::connect(addr).unwrap());
        reader.read_until(b'\n', &mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    };
    // Its [server] knobs, and its fault: the second connection cut after 7 bytes.
    let first = banner(addr);
    assert!(first.starts_with("220 mx.one-side.test "), "{first}");
    assert_eq!(banner(addr), "220 mx.");

    let interceptor = scenario_file(
        "interceptor-only.toml",
        "[interceptor]\nprofile = \"symantec-rset\"\nscan_delay = \"2s\"\n",
    );
    let (_proxy, line) = start_proxy(interceptor.to_str().unwrap());
    assert!(line.contains("· profile symantec-rset"), "{line}");

    // A run still needs the whole scenario, and says what is missing.
    let err = refused(&["run", server.to_str().unwrap()]);
    assert!(
        err.contains("server-only.toml:1:1: missing field `name`"),
        "{err}"
    );
    let named = scenario_file("named.toml", "name = \"x\"\n[server]\n");
    let err = refused(&["run", named.to_str().unwrap()]);
    assert!(
        err.contains("named.toml:1:1: missing field `client`"),
        "{err}"
    );
    for file in [server, interceptor, named] {
        let _ = std::fs::remove_file(file);
    }
}
