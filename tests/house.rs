//! The layering rules of the code, checked on the source: `proto` depends on nothing of the
//! crate outside itself, and no two top-level modules reach each other (no import cycle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::name` a line of code (not a comment) mentions.
fn crate_references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let tail = &rest[i + "crate::".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` inside macros and `smtpsim::crate` do not count; a word before
            // `crate` (e.g. `dollar_crate`) would be part of another identifier.
            let before = rest[..i].chars().last();
            if !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                names.push(name);
            }
            rest = tail;
        }
    }
    names
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file belongs to.
fn top_module(file: &Path) -> String {
    let rel = file.strip_prefix(src()).expect("under src");
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn proto_imports_nothing_of_the_crate_outside_itself() {
    let mut files = Vec::new();
    rust_files(&src().join("proto"), &mut files);
    assert!(files.len() >= 10);
    let mut outside = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in crate_references(&text) {
            if name != "proto" {
                outside.push(format!("{}: crate::{name}", file.display()));
            }
        }
    }
    assert!(outside.is_empty(), "{}", outside.join("\n"));
}

#[test]
fn no_import_cycle_among_top_level_modules() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = top_module(file);
        if from == "lib" || from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for to in crate_references(&text) {
            if to != from {
                uses.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            for next in uses.get(&m).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    let mut cycles = Vec::new();
    for (from, tos) in &uses {
        for to in tos {
            if reaches(to, from) {
                cycles.push(format!("{from} -> {to} -> ... -> {from}"));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
    // The layering lib.rs and docs/design.md describe: each module uses only those before it.
    let order = [
        "proto",
        "knobs",
        "fault",
        "profile",
        "catalogue",
        "scenario",
        "seeds",
        "dkim",
        "net",
        "tls",
        "transcript",
        "actor",
        "oracle",
        "sim",
        "sweep",
        "progress",
        "format",
        "live",
        "diff",
        "shrink",
        "check",
        "world",
        "bench",
        "cli",
        "app",
    ];
    let mut upward = Vec::new();
    for (i, module) in order.iter().enumerate() {
        for used in uses.get(*module).into_iter().flatten() {
            match order.iter().position(|m| m == used) {
                Some(j) if j < i => {}
                _ => upward.push(format!("{module} uses {used}")),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "against the documented order:\n{}",
        upward.join("\n")
    );
    assert!(
        uses.keys().all(|m| order.contains(&m.as_str())),
        "{:?}",
        uses.keys()
    );
}
