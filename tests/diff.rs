//! `smtpsim diff`: the generator is deterministic and its scripts read back as written; the
//! comparison sorts differences into code, text and known divergences; and, with a reference
//! Postfix (`SMTPSIM_POSTFIX_DIFF=127.0.0.1:10026`, started by tests/parity/start-postfix.sh),
//! a fixed range of generated sessions plus one that changes every day show no unexplained
//! difference in code, enhanced code or close.

#[path = "support/skip.rs"]
mod skip;

use smtpsim::diff::script::{self, Step};
use smtpsim::diff::{compare, gen, known, Verdict};
use std::process::Command;

#[test]
fn a_seed_generates_the_same_session_and_its_script_reads_back() {
    for seed in 0..500 {
        let steps = gen::session(seed);
        assert_eq!(steps, gen::session(seed), "seed {seed}");
        let text = script::render(&steps);
        assert_eq!(script::parse(&text).unwrap(), steps, "seed {seed}:\n{text}");
    }
    // Different seeds, different sessions.
    assert_ne!(gen::session(1), gen::session(2));
}

#[test]
fn the_generator_covers_the_grammar() {
    let all: String = (0..2000)
        .map(|s| script::render(&gen::session(s)))
        .collect();
    for needle in [
        "> EHLO",
        "> HELO",
        "MAIL FROM:",
        "RCPT TO:",
        "> DATA",
        "+ ",
        "> RSET",
        "VRFY",
        "ETRN",
        "STARTTLS",
        "BDAT",
        "\\x00",
        "~ NOOP\\n",
        "SIZE=",
        "NOTIFY=",
        "ORCPT=",
        "<>",
        "@relay",
        "\"b o b\"",
        "[IPv6:::1]",
        "Subject: hello",
        "..leading dot",
        "> QUIT",
    ] {
        assert!(all.contains(needle), "no generated session has {needle:?}");
    }
}

#[test]
fn the_known_divergences_file_is_valid_and_each_has_a_reason() {
    let all = known::all();
    assert!(!all.is_empty());
    for d in &all {
        assert!(d.reason.len() > 40, "{}: give the reason", d.id);
    }
}

fn replies(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

#[test]
fn differences_are_sorted_into_code_text_and_known() {
    let steps = vec![Step::command("NOOP"), Step::command("STARTTLS")];
    let real = replies(&["220 x", "250 2.0.0 Ok", "220 2.0.0 Ready to start TLS"]);
    let same = compare(&steps, &real, &real.clone());
    assert!(matches!(same, Verdict::Same));
    let text = compare(
        &steps,
        &real,
        &replies(&["220 x", "250 2.0.0 OK", "220 2.0.0 Ready to start TLS"]),
    );
    assert!(matches!(text, Verdict::Text(ref t) if t.len() == 1 && t[0].after == "NOOP"));
    let known = compare(
        &steps,
        &real,
        &replies(&["220 x", "250 2.0.0 Ok", "454 4.7.0 TLS not available"]),
    );
    assert!(matches!(known, Verdict::Known(ref id) if id == "starttls"));
    let code = compare(
        &steps,
        &real,
        &replies(&["220 x", "500 5.5.2 Error", "[closed]"]),
    );
    assert!(
        matches!(code, Verdict::Code(ref m) if m.signature() == "NOOP: real 250 2.0.0 / smtpsim 500 5.5.2"),
        "{code:?}"
    );
}

/// The reference for differential runs, if there is one.
fn reference() -> Option<String> {
    skip::env("SMTPSIM_POSTFIX_DIFF", "Postfix")
}

fn diff(against: &str, seed: u64, sessions: u64) {
    let out = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
        .args([
            "diff",
            "--against",
            against,
            "--jobs",
            "8",
            "--budget",
            "120s",
        ])
        .args([
            "--seed",
            &seed.to_string(),
            "--sessions",
            &sessions.to_string(),
        ])
        .output()
        .expect("smtpsim runs");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "unexplained differences from the reference:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" sessions (seeds "), "{report}");
}

#[test]
fn generated_sessions_match_the_real_postfix_fixed_range() {
    if let Some(addr) = reference() {
        diff(&addr, 0, 2000);
    }
}

#[test]
fn generated_sessions_match_the_real_postfix_range_of_the_day() {
    if let Some(addr) = reference() {
        let day = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            / 86_400;
        // A new range every day, far from the fixed one; the report names it for replay.
        diff(&addr, 1_000_000 + day * 1000, 1000);
    }
}
