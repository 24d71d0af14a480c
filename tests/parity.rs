//! Postfix parity: the same SMTP scripts against `smtpsim serve --profile postfix` and against
//! a real Postfix, compared reply by reply (code, enhanced code, whether and when the
//! connection closed; texts after normalising queue ids, reported).
//!
//! Scripts: `tests/parity/scripts/*.smtp`, in the format [`smtpsim::diff::script`] reads and
//! plays (`>` command, `+` pipelined, `.` content, `~`/`=` raw bytes, `#` comment).
//!
//! Golden replies recorded from the real server are in `tests/parity/golden/`, so the corpus
//! runs where Postfix is not installed. With `SMTPSIM_POSTFIX=127.0.0.1:10025` (CI starts one
//! with `tests/parity/start-postfix.sh`) the real server is asked afresh and compared; with
//! `SMTPSIM_PARITY_RECORD=1` as well, the golden files are rewritten.

use smtpsim::diff::script::{self, codes, Step, Waits};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Waits for the reference with Postfix's default error delays (1 s a reply after 10 errors).
const WAITS: Waits = Waits {
    reply: Duration::from_secs(20),
    last: Duration::from_millis(1500),
};

fn play(addr: &str, steps: &[Step]) -> Vec<String> {
    script::play(addr, steps, WAITS).unwrap_or_else(|e| panic!("{e}"))
}

fn corpus() -> Vec<(String, Vec<Step>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/scripts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "smtp"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                script::parse(&std::fs::read_to_string(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            )
        })
        .collect()
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/parity/golden")
        .join(format!("{name}.txt"))
}

struct Serve(Child, String);

impl Serve {
    fn start() -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--profile",
                "postfix",
                "--set",
                "mailboxes=[\"bob@example.org\", \"carol@example.org\", \"root@example.org\", \"postmaster@example.org\"]",
                "--set",
                "local_domains=[\"example.org\", \"localhost\", \"[127.0.0.1]\"]",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("smtpsim starts");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        let addr = first
            .split("listening on ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        std::thread::spawn(move || for _ in reader.lines() {});
        Serve(child, addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    let record = std::env::var("SMTPSIM_PARITY_RECORD").is_ok_and(|v| v == "1");
    let serve = Serve::start();
    // Scripts run in parallel; the slow ones (error limits) take ~11 s each.
    let results: Vec<(String, Vec<String>, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = corpus
            .iter()
            .map(|(name, steps)| {
                let (real, serve_addr) = (real.clone(), serve.1.clone());
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
