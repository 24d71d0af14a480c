//! Postfix parity: the same SMTP scripts against `smtpsim serve --profile postfix` and against
//! a real Postfix, compared reply by reply (code, enhanced code, whether and when the
//! connection closed; texts after normalising queue ids, reported). Scripts are in the format
//! [`smtpsim::diff::script`] reads and plays.
//!
//! Golden replies recorded from the real server are in `tests/parity/golden/`, so the corpus
//! runs where Postfix is not installed. With `SMTPSIM_POSTFIX=127.0.0.1:10025` (CI starts one
//! with `tests/parity/start-postfix.sh`) the real server is asked afresh and compared; with
//! `SMTPSIM_PARITY_RECORD=1` as well, the golden files are rewritten.

#[path = "support/skip.rs"]
mod skip;

mod support;

use smtpsim::diff::script::codes;
use std::path::{Path, PathBuf};
use support::{corpus, play, Serve};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/parity/golden")
        .join(format!("{name}.txt"))
}

#[test]
fn the_postfix_profile_answers_like_postfix() {
    let corpus = corpus();
    assert!(
        corpus.len() >= 40,
        "the corpus has {} scripts",
        corpus.len()
    );
    let real = std::env::var("SMTPSIM_POSTFIX")
        .ok()
        .filter(|v| !v.is_empty());
    if real.is_none() {
        // The comparison with the live server is what is skipped: the golden replies stand in.
        skip::skip(
            "Postfix",
            "SMTPSIM_POSTFIX is not set: compared with the committed golden replies instead",
        );
    }
    let record = std::env::var("SMTPSIM_PARITY_RECORD").is_ok_and(|v| v == "1");
    let serve = Serve::start("text");
    // Scripts run in parallel; the slow ones (error limits) take ~11 s each.
    let results: Vec<(String, Vec<String>, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = corpus
            .iter()
            .map(|(name, steps)| {
                let (real, serve_addr) = (real.clone(), serve.addr.clone());
                scope.spawn(move || {
                    let reference = match &real {
                        Some(addr) => {
                            let fresh = play(addr, steps);
                            if record {
                                std::fs::create_dir_all(golden_path(name).parent().unwrap()).unwrap();
                                std::fs::write(golden_path(name), fresh.join("\n") + "\n").unwrap();
                            }
                            fresh
                        }
                        None => std::fs::read_to_string(golden_path(name))
                            .unwrap_or_else(|_| panic!("no golden replies for {name}; record them (see tests/parity.rs)"))
                            .lines()
                            .map(str::to_string)
                            .collect(),
                    };
                    (name.clone(), reference, play(&serve_addr, steps))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("script thread"))
            .collect()
    });
    let source = if real.is_some() {
        "real Postfix"
    } else {
        "golden replies"
    };
    let (mut replies, mut code_matches, mut text_diffs) = (0, 0, Vec::new());
    let mut failures = Vec::new();
    for (name, reference, ours) in &results {
        let n = reference.len().max(ours.len());
        for i in 0..n {
            replies += 1;
            let (r, o) = (
                reference.get(i).map(String::as_str).unwrap_or("<nothing>"),
                ours.get(i).map(String::as_str).unwrap_or("<nothing>"),
            );
            if codes(r) == codes(o) {
                code_matches += 1;
                if r != o {
                    text_diffs.push(format!("{name} #{i}: {source} {r:?} / smtpsim {o:?}"));
                }
            } else {
                failures.push(format!("{name} #{i}: {source} {r:?} / smtpsim {o:?}"));
            }
        }
    }
    eprintln!("parity against {source}: {} scripts, {code_matches}/{replies} replies match in code and enhanced code", results.len());
    for d in &text_diffs {
        eprintln!("  text differs: {d}");
    }
    assert!(
        failures.is_empty(),
        "code parity below 100%:\n{}",
        failures.join("\n")
    );
}
