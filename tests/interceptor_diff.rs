//! `smtpsim diff --interceptor`: a real SMTP proxy (proxsmtp) between a client session and
//! `serve`, live, against its interceptor preset in the simulation. Tests that need proxsmtp
//! skip when it is missing (a note on stderr; with `SMTPSIM_REQUIRE_TOOLS=1` they fail); CI
//! installs it (.ci/run).

#[path = "support/skip.rs"]
mod skip;

use smtpsim::diff::client::behaviour::Behaviour as Ends;
use smtpsim::diff::interceptor::behaviour::{Behaviour, Filter, SIGNATURE};
use smtpsim::diff::interceptor::proxies;

#[path = "support/bin.rs"]
mod bin;
use bin::smtpsim;

fn proxsmtpd() -> Option<std::path::PathBuf> {
    skip::find("proxsmtpd", &["/usr/sbin/proxsmtpd"])
}

/// `smtpsim diff --interceptor proxsmtp --program PATH ARGS...`.
fn proxsmtp_diff(path: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["diff", "--interceptor", "proxsmtp", "--program", path];
    all.extend_from_slice(args);
    smtpsim(&all)
}

#[test]
fn an_unknown_proxy_or_a_missing_one_exits_2() {
    let (code, _, err) = smtpsim(&["diff", "--interceptor", "nosuch"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("one of proxsmtp"), "{err}");
    let (code, _, err) = proxsmtp_diff("/nonexistent/proxsmtpd", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("apt-get install proxsmtp"), "{err}");
}

#[test]
fn a_few_generated_behaviours_show_no_unexplained_difference() {
    let Some(path) = proxsmtpd() else { return };
    let (code, out, err) = proxsmtp_diff(
        path.to_str().expect("utf-8"),
        &["--seed", "0", "--behaviours", "6", "--jobs", "2"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("proxsmtp 1.10: 6 behaviours"), "{out}");
}

#[test]
fn a_refusing_filter_is_answered_by_the_proxy_and_reset_upstream() {
    let Some(path) = proxsmtpd() else { return };
    let behaviour = Behaviour {
        ends: Ends {
            seed: 7,
            keywords: vec!["PIPELINING".into(), "CHUNKING".into()],
            recipients: 1,
            events: Vec::new(),
        },
        client: "swaks",
        filter: Filter::Reject,
        optional_last: true,
        signature: SIGNATURE,
    };
    let knobs = proxies::by_name("proxsmtp")
        .expect("adapter")
        .filter_knobs(Filter::Reject);
    let file = std::env::temp_dir().join(format!(
        "smtpsim-interceptor-diff-test-{}.toml",
        std::process::id()
    ));
    std::fs::write(&file, behaviour.scenario("proxsmtp", "proxsmtp", &knobs)).expect("write");
    let (code, out, err) = proxsmtp_diff(
        path.to_str().expect("utf-8"),
        &["--replay", file.to_str().expect("utf-8")],
    );
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no difference"), "{out}");
    let real = &out[out.find("real:").expect("real side")..out.find("profile:").expect("profile")];
    assert!(
        real.contains("RCPT TO:<bob@example.org> | RSET | QUIT"),
        "the envelope reset upstream: {real}"
    );
    assert!(
        real.contains(
            "354 Start mail input; end with <CRLF>.<CRLF> | 550 5.7.1 Refused by the filter"
        ),
        "own 354, then the filter's refusal: {real}"
    );
    assert!(real.contains("copies: none"), "{real}");
    assert!(
        real.contains("250-ENHANCEDSTATUSCODES / 250-8BITMIME / 250 XFILTERED"),
        "CHUNKING, the EHLO reply's last line, stripped and replaced: {real}"
    );
}

/// clamsmtp with clamd: not installed by CI (clamav-daemon and its dependencies cost about 40 s
/// there), so a machine without them skips this test with a note and does not fail, even under
/// `SMTPSIM_REQUIRE_TOOLS=1`.
#[test]
fn clamsmtp_when_installed_shows_no_unexplained_difference() {
    let clamsmtpd = std::path::Path::new("/usr/sbin/clamsmtpd");
    if !clamsmtpd.is_file() || !std::path::Path::new("/usr/sbin/clamd").is_file() {
        eprintln!("skipped (not required): clamsmtp or clamd is missing; apt-get install clamsmtp clamav-daemon");
        return;
    }
    let (code, out, err) = smtpsim(&[
        "diff",
        "--interceptor",
        "clamsmtp",
        "--seed",
        "0",
        "--behaviours",
        "6",
        "--jobs",
        "2",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("clamsmtp 1.10 (clamd: ClamAV"), "{out}");
}

/// spampd with SpamAssassin: installed by CI (.ci/run's apt-get line); a machine without it
/// skips with a note (with `SMTPSIM_REQUIRE_TOOLS=1`, fails). spampd forks its workers: none may
/// outlive the run.
#[test]
fn spampd_shows_no_unexplained_difference_and_leaves_no_process() {
    let Some(path) = skip::find("spampd", &["/usr/sbin/spampd"]) else {
        return;
    };
    let (code, out, err) = smtpsim(&[
        "diff",
        "--interceptor",
        "spampd",
        "--program",
        path.to_str().expect("utf-8"),
        "--seed",
        "0",
        "--behaviours",
        "4",
        "--jobs",
        "2",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("spampd 2.53 (SpamAssassin"), "{out}");
    // A process killed a moment ago may still be on its way out: a second at most.
    let mut left = Vec::new();
    for _ in 0..20 {
        left = std::process::Command::new("pgrep")
            .args(["-f", "smtpsim-interceptor-diff-.*/spampd.pid"])
            .output()
            .expect("pgrep")
            .stdout;
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        left.is_empty(),
        "spampd processes left running: {}",
        String::from_utf8_lossy(&left)
    );
}
