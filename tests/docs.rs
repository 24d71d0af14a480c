//! The documentation's commands: every `smtpsim SUBCOMMAND --flag` shown in README.md and
//! docs/*.md exists in the binary's `--help`; the ```` ```sh runnable ```` blocks run, line by
//! line, against the built binary in a directory holding a copy of `sims/`.
//!
//! A runnable line is expected to exit 0 unless its trailing comment says `exit N`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_smtpsim");

/// A fenced block: the file, its opening line, its language, whether it is runnable, its lines.
struct Block {
    file: String,
    line: usize,
    lang: String,
    runnable: bool,
    lines: Vec<String>,
}

fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

fn sh_blocks() -> Vec<Block> {
    blocks().into_iter().filter(|b| b.lang == "sh").collect()
}

fn blocks() -> Vec<Block> {
    let mut blocks = Vec::new();
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).expect("doc readable");
        let file = path.strip_prefix(ROOT).unwrap().display().to_string();
        let mut open: Option<Block> = None;
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            match open.take() {
                Some(block) if trimmed.starts_with("```") => blocks.push(block),
                Some(mut block) => {
                    block.lines.push(line.to_string());
                    open = Some(block);
                }
                None => {
                    if let Some(info) = trimmed.strip_prefix("```") {
                        let words: Vec<&str> = info.split_whitespace().collect();
                        open = Some(Block {
                            file: file.clone(),
                            line: n + 1,
                            lang: words.first().unwrap_or(&"").to_string(),
                            runnable: words.contains(&"runnable"),
                            lines: Vec::new(),
                        });
                    }
                }
            }
        }
    }
    blocks
}

/// The command part of a shell line (its trailing `# comment` cut off) and the comment.
fn split_comment(line: &str) -> (&str, &str) {
    match line.find(" #") {
        Some(i) => (line[..i].trim(), line[i + 2..].trim()),
        None if line.trim_start().starts_with('#') => ("", line.trim()),
        None => (line.trim(), ""),
    }
}

/// Every `smtpsim ...` invocation in a piece of shell text or inline code: its words.
fn invocations(text: &str) -> Vec<Vec<String>> {
    let text = text.replace("cargo run --release --", "smtpsim");
    let mut found = Vec::new();
    for segment in text.split(['|', ';', '&', '(', ')', '`']) {
        let words: Vec<&str> = segment.split_whitespace().collect();
        let start = words
            .iter()
            .position(|w| !w.contains('=') || w.starts_with("--"));
        if let Some(start) = start {
            if words[start] == "smtpsim" {
                found.push(words[start..].iter().map(|w| w.to_string()).collect());
            }
        }
    }
    found
}

/// Inline code spans (`...`) that start with `smtpsim `, outside fenced blocks.
fn inline_invocations(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && span.starts_with("smtpsim ") {
                // Tables escape the pipes of alternatives: `text\|json`.
                found.extend(invocations(&span.replace("\\|", " ")).into_iter().take(1));
            }
        }
    }
    found
}

fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("binary runs");
    assert!(out.status.success(), "smtpsim {args:?} fails");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_subcommand_and_flag_in_the_docs_exists() {
    let top = help(&["--help"]);
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut shown = Vec::new();
    for block in sh_blocks() {
        for (k, line) in block.lines.iter().enumerate() {
            for words in invocations(split_comment(line).0) {
                shown.push((format!("{}:{}", block.file, block.line + 1 + k), words));
            }
        }
    }
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.strip_prefix(ROOT).unwrap().display().to_string();
        for words in inline_invocations(&text) {
            shown.push((file.clone(), words));
        }
    }
    assert!(shown.len() > 30, "too few commands found: {}", shown.len());
    let mut wrong = Vec::new();
    for (place, words) in &shown {
        let Some(sub) = words.get(1) else { continue };
        if sub.starts_with('-') || sub.chars().any(|c| c.is_uppercase()) || sub == "help" {
            continue; // `smtpsim --help`, `smtpsim SUBCOMMAND`, `smtpsim help SUBCOMMAND`
        }
        if !top
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{sub} ")))
        {
            wrong.push(format!("{place}: no subcommand `{sub}`"));
            continue;
        }
        let sub_help = helps
            .entry(sub.clone())
            .or_insert_with(|| help(&[sub, "--help"]));
        for word in &words[2..] {
            let flag = word
                .trim_matches(|c| c == '[' || c == ']' || c == '"' || c == '\'')
                .split('=')
                .next()
                .unwrap();
            if flag.starts_with("--") && flag.len() > 2 {
                let flag = flag.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
                if !sub_help.contains(&format!("{flag} "))
                    && !sub_help.contains(&format!("{flag}\n"))
                {
                    wrong.push(format!("{place}: `smtpsim {sub}` has no {flag}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn cargo_test_targets_and_scripts_named_in_the_docs_exist() {
    let mut wrong = Vec::new();
    for block in sh_blocks() {
        for line in &block.lines {
            let (cmd, _) = split_comment(line);
            let words: Vec<&str> = cmd.split_whitespace().collect();
            for pair in words.windows(2) {
                if pair[0] == "--test"
                    && !Path::new(ROOT)
                        .join(format!("tests/{}.rs", pair[1]))
                        .exists()
                {
                    wrong.push(format!("{}: no tests/{}.rs", block.file, pair[1]));
                }
            }
            for word in &words {
                if word.ends_with(".sh") && !Path::new(ROOT).join(word).exists() {
                    wrong.push(format!("{}: no {word}", block.file));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// A directory holding a copy of `sims/`, and a PATH whose `smtpsim` is the built binary.
fn sandbox(name: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("smtpsim-docs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&Path::new(ROOT).join("sims"), &dir.join("sims"));
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (dir, path)
}

/// Runs a shell command line in `dir` with `path`: exit code and stdout.
fn sh(cmd: &str, dir: &Path, path: &str) -> (i32, String, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("sh runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Output shown in a ```text block after a `$ smtpsim ...` line is what that command prints:
/// every line shown (but `...`) is a line of its output.
#[test]
fn shown_output_is_what_the_command_prints() {
    let (dir, path) = sandbox("output");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for block in blocks().into_iter().filter(|b| b.lang == "text") {
        let Some(cmd) = block
            .lines
            .first()
            .and_then(|l| l.strip_prefix("$ smtpsim "))
        else {
            continue;
        };
        let (_, out, err) = sh(&format!("smtpsim {cmd}"), &dir, &path);
        let printed: Vec<&str> = out.lines().chain(err.lines()).map(str::trim_end).collect();
        for line in block.lines.iter().skip(1).filter(|l| l.trim() != "...") {
            checked += 1;
            if !printed.contains(&line.trim_end()) {
                wrong.push(format!(
                    "{}:{}: not printed: {line}",
                    block.file, block.line
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(checked >= 10, "only {checked} lines of shown output");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn runnable_blocks_run_as_documented() {
    let (dir, path) = sandbox("run");
    let mut ran = 0;
    let mut wrong = Vec::new();
    for block in sh_blocks().into_iter().filter(|b| b.runnable) {
        for (k, line) in block.lines.iter().enumerate() {
            let (cmd, comment) = split_comment(line);
            if cmd.is_empty() {
                continue;
            }
            let cmd = cmd.replace("cargo run --release --", "smtpsim");
            assert!(
                cmd.starts_with("smtpsim "),
                "{}:{}: a runnable block runs only smtpsim: {cmd}",
                block.file,
                block.line + 1 + k
            );
            let expected: i32 = comment
                .split("exit ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let (code, _, err) = sh(&cmd, &dir, &path);
            ran += 1;
            if code != expected {
                wrong.push(format!(
                    "{}:{}: `{cmd}` exited {code}, the docs say {expected}\n{err}",
                    block.file,
                    block.line + 1 + k
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ran >= 10, "only {ran} runnable commands found");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// docs/knobs.md: every knob of every section with its type and meaning, generated from the
/// configs' doc comments (the text rustdoc and `smtpsim list PRESET` show). Kept current by this
/// test; `SMTPSIM_DOCS_UPDATE=1` rewrites it.
#[test]
fn the_knob_reference_page_is_generated_from_the_doc_comments() {
    let mut page = String::from(
        "# Knob reference\n\n\
         Every knob of every scenario section, generated by `tests/docs.rs` from the doc comments\n\
         of the configs: the text `cargo doc` shows, and `smtpsim list PRESET` with each preset's\n\
         values. `SMTPSIM_DOCS_UPDATE=1 cargo test --test docs` rewrites this page.\n",
    );
    let mut section = "";
    for (name, knob) in smtpsim::format::knobs::every_knob() {
        if name != section {
            section = name;
            page.push_str(&format!(
                "\n## [{name}]\n\n| knob | type | meaning |\n| --- | --- | --- |\n"
            ));
        }
        let cell = |text: String| text.replace('|', "\\|");
        page.push_str(&format!(
            "| `{}` | {} | {} |\n",
            knob.name,
            cell(knob.form()),
            cell(knob.doc())
        ));
    }
    let path = Path::new(ROOT).join("docs/knobs.md");
    if std::env::var("SMTPSIM_DOCS_UPDATE").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &page).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == page,
        "docs/knobs.md is not the reference the doc comments give: run SMTPSIM_DOCS_UPDATE=1 cargo test --test docs"
    );
}
