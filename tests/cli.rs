//! The binary's contract: exit codes, file:line:col errors, the profile list and each preset's knobs.

#[path = "support/bin.rs"]
mod bin;

use bin::smtpsim;
use std::process::Command;

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("smtpsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

#[test]
fn run_passes_with_exit_0_and_prints_the_transcript() {
    let (code, out, _) = smtpsim(&[
        "run",
        concat!(env!("CARGO_MANIFEST_DIR"), "/sims/symantec-rset.toml"),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("354 Please start mail input."));
    assert!(out.contains("invariants: all held"));
}

#[test]
fn unknown_key_is_exit_2_with_line_and_column() {
    let path = write_temp(
        "bad-key.toml",
        "name = \"x\"\n[client]\nprofile = \"ssmtp\"\ncolour = \"red\"\n[server]\n",
    );
    let (code, _, err) = smtpsim(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{}:4:1:", path.display())), "{err}");
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn unknown_profile_is_exit_2_pointing_at_the_value() {
    let text = "name = \"x\"\n[client]\nprofile = \"nope\"\n[[client.message]]\nfrom = \"a@b\"\nto = [\"c@d\"]\nbody = \"x\"\n[server]\n";
    let path = write_temp("bad-profile.toml", text);
    let (code, _, err) = smtpsim(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{}:3:11:", path.display())), "{err}");
    assert!(err.contains("unknown client profile \"nope\""), "{err}");
}

#[test]
fn bad_duration_and_missing_file_are_exit_2() {
    let text = "name = \"x\"\n[client]\nline_delay = \"3 parsecs\"\n[[client.message]]\nfrom = \"a@b\"\nto = [\"c@d\"]\nbody = \"x\"\n[server]\n";
    let path = write_temp("bad-duration.toml", text);
    let (code, _, err) = smtpsim(&["run", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(":3:"), "{err}");
    let (code, _, err) = smtpsim(&["run", "/nonexistent/scenario.toml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/scenario.toml: no such file, and no built-in sim of that name"),
        "{err}"
    );
    let (code, _, _) = smtpsim(&["run", "--no-such-flag"]);
    assert_eq!(code, 2);
}

#[test]
fn list_names_every_profile() {
    let (code, out, _) = smtpsim(&["list"]);
    assert_eq!(code, 0);
    for name in [
        "postfix",
        "postfix-relaxed",
        "exchange",
        "rfc821",
        "ssmtp",
        "telnet",
        "bare-helo",
        "postfix-cached",
        "passthrough",
        "symantec-telnet",
        "symantec-rset",
        "pix-mailguard",
    ] {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(name)),
            "{name} missing:\n{out}"
        );
    }
}

#[test]
fn sweeps_a_ci_can_trust_refuse_empty_ranges_bad_paths_and_broken_shard_sets() {
    let sim = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/passthrough-baseline.toml"
    );
    let (code, _, err) = smtpsim(&["sweep", sim, "--seeds", "5..5"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--seeds 5..5: the range is empty"), "{err}");
    let (code, _, err) = smtpsim(&["sweep", sim, "--seeds", "0..2", "--shard", "4/4"]);
    assert_eq!(code, 2);
    assert!(err.contains("this shard has no seeds"), "{err}");
    let (code, out, err) = smtpsim(&[
        "sweep",
        sim,
        "--seeds",
        "0..4",
        "--json",
        "/nonexistent/dir/x.json",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--json /nonexistent/dir/x.json: cannot write"),
        "{err}"
    );
    assert!(out.is_empty(), "nothing ran: {out}");

    let shard = |i: u32| {
        let path = write_temp(&format!("shard-{i}.json"), "");
        let spec = format!("{i}/3");
        let (code, _, err) = smtpsim(&[
            "sweep",
            sim,
            "--seeds",
            "0..12",
            "--shard",
            &spec,
            "--json",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        path.to_str().unwrap().to_string()
    };
    let (one, two, three) = (shard(1), shard(2), shard(3));
    let (code, _, err) = smtpsim(&["merge", &one, &two]);
    assert_eq!(code, 2);
    assert!(err.contains("shard 3/3 missing"), "{err}");
    let (code, _, err) = smtpsim(&["merge", &one, &two, &two, &three]);
    assert_eq!(code, 2);
    assert!(err.contains("shard 2/3 given twice"), "{err}");
    let (code, out, err) = smtpsim(&["merge", &three, &one, &two]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("seeds 0..12 · 12 runs"), "{out}");
}

#[test]
fn check_passes_on_main_fails_with_a_diff_after_a_knob_change_and_accept_fixes_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let (code, out, err) = smtpsim(&[
        "check",
        "--snapshots",
        &format!("{root}/snapshots"),
        &format!("{root}/sims/symantec-rset.toml"),
        &format!("{root}/sims/pix-mailguard.toml"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 unchanged, 0 differ"), "{out}");

    // The origin case with a 12 s scan, checked against a copy of its snapshot.
    let dir = std::env::temp_dir().join(format!("smtpsim-check-{}", std::process::id()));
    let snaps = dir.join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    std::fs::copy(
        format!("{root}/snapshots/sims@symantec-rset.toml.snap"),
        snaps.join("sims@symantec-rset.toml.snap"),
    )
    .unwrap();
    let sim = dir.join("symantec-rset.toml");
    let text = std::fs::read_to_string(format!("{root}/sims/symantec-rset.toml")).unwrap();
    std::fs::write(
        &sim,
        text.replace(
            "profile = \"symantec-rset\"",
            "profile = \"symantec-rset\"\nscan_delay = \"12s\"",
        ),
    )
    .unwrap();
    let args = [
        "check",
        "--snapshots",
        snaps.to_str().unwrap(),
        sim.to_str().unwrap(),
    ];
    let (code, out, _) = smtpsim(&args);
    assert_eq!(code, 1);
    assert!(out.contains("changed  "), "{out}");
    assert!(
        out.contains("-   2.132s c1  interceptor **              scanning the message for 10s"),
        "{out}"
    );
    assert!(
        out.contains("+   2.132s c1  interceptor **              scanning the message for 12s"),
        "{out}"
    );
    let (code, out, _) = smtpsim(&[&args[..], &["--accept"]].concat());
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = smtpsim(&args);
    assert_eq!(code, 0, "accepted: {out}");
    let accepted = std::fs::read_to_string(snaps.join("sims@symantec-rset.toml.snap")).unwrap();
    assert!(
        accepted.starts_with("---\nsource: tests/sims.rs\n"),
        "insta's format"
    );
}

#[test]
fn errors_name_the_flag_and_the_output_format_follows_the_extension() {
    let (code, _, err) = smtpsim(&["serve", "--listen", "foo"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--listen foo:") && err.contains("HOST:PORT"),
        "{err}"
    );
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().to_string();
    let (code, _, err) = smtpsim(&["serve", "--listen", &busy]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("--listen {busy}:")) && err.contains("in use"),
        "{err}"
    );

    let sim = concat!(env!("CARGO_MANIFEST_DIR"), "/sims/symantec-rset.toml");
    let dir = std::env::temp_dir().join(format!("smtpsim-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, starts) in [
        ("r.pcap", &[0xd4u8, 0xc3, 0xb2, 0xa1][..]),
        ("r.svg", b"<svg"),
        ("r.jsonl", b"{\"type\":\"run\""),
    ] {
        let out = dir.join(name);
        let (code, _, err) = smtpsim(&["run", sim, "--output", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.starts_with(starts), "{name}");
    }
}

#[test]
fn a_sweep_writes_junit_prints_failures_as_found_and_stops_when_told() {
    let sim = concat!(env!("CARGO_MANIFEST_DIR"), "/sims/symantec-telnet.toml");
    let junit = write_temp("sweep.xml", "");
    let (code, _, err) = smtpsim(&[
        "sweep",
        sim,
        "--seeds",
        "0..100",
        "--faults",
        "lossy-network",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "seed 21 loses a message");
    assert!(
        err.contains("FAIL seed 21: silent-loss") && err.contains("replay: smtpsim run"),
        "{err}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 100);
    assert!(
        xml.contains("name=\"seed 21\">\n    <failure message=\"silent-loss\">"),
        "{xml}"
    );
    assert!(xml.contains("replay: smtpsim run"));

    let (code, out, _) = smtpsim(&[
        "sweep",
        sim,
        "--seeds",
        "0..2000",
        "--faults",
        "lossy-network",
        "--fail-fast",
        "--jobs",
        "1",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("stopped after 1 failing seeds"), "{out}");
    assert!(
        out.contains("seeds passed: 21, failed: 1"),
        "one job: seeds 0..=21 ran: {out}"
    );
}

#[test]
fn soak_counts_findings_and_fails_only_on_failures_of_the_simulator() {
    let (code, out, _) = smtpsim(&["soak", "sims/symantec-early-ack.toml", "--seeds", "0..30"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("30 runs"), "{out}");
    assert!(out.contains("0 failures of the simulator"), "{out}");
    // A run stuck until its time limit is a failure, printed with its replay command.
    let path = format!("{}/tests/fixtures/stuck.toml", env!("CARGO_MANIFEST_DIR"));
    let (code, out, _) = smtpsim(&["soak", &path, "--seeds", "0..3", "--faults", "none"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("3 failures of the simulator"), "{out}");
    assert!(
        out.contains(&format!("replay: smtpsim run {path} --seed 2")),
        "{out}"
    );
    let (code, _, err) = smtpsim(&["soak", "--seeds", "5..5"]);
    assert_eq!(code, 2);
    assert!(err.contains("the range is empty"), "{err}");
}

// `smtpsim list PRESET`: every knob of a preset with its meaning (the config's doc comment,
// the text rustdoc shows), its type with an example, and the preset's value.

#[test]
fn every_knob_has_a_meaning_and_a_form() {
    let mut count = 0;
    for (section, knob) in smtpsim::format::knobs::every_knob() {
        count += 1;
        let doc = knob.doc();
        assert!(
            !doc.is_empty(),
            "[{section}] {} has no doc comment",
            knob.name
        );
        assert!(!doc.contains("r\"") && !doc.contains("#["), "{doc}");
        assert!(
            !knob.form().starts_with("a crate"),
            "[{section}] {}: {}",
            knob.name,
            knob.form()
        );
    }
    assert!(count > 100, "{count}");
}

#[test]
fn list_preset_shows_each_knob_with_meaning_type_and_value() {
    let (code, out, err) = smtpsim(&["list", "symantec-rset"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("interceptor symantec-rset: SEP as the Postfix log showed"),
        "{out}"
    );
    for expected in [
        "  data_reply = \"354 Please start mail input.\"\n      Answer the client's DATA with this reply and hold the message (empty: relay DATA).\n      type: a string (in quotes in a scenario)\n",
        "  scan_delay = \"10s\"\n      Scanning time before the held message goes upstream.\n      type: a duration such as \"30s\" (units ms, s, m, h, d, w)\n",
        "  release_on = \"dot\"\n      When a held message is sent upstream.\n      type: one of `dot`, `quit`\n",
        "  upstream_resets = 2\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let knobs = smtpsim::scenario::InterceptorSection::KNOBS.len();
    let shown = out
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .count();
    assert_eq!(shown, knobs, "{out}");

    // A server and a client share the name: both are shown.
    let (code, out, _) = smtpsim(&["list", "exchange"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("server exchange: ") && out.contains("client exchange: "),
        "{out}"
    );
    let (code, out, _) = smtpsim(&["list", "lossy-network"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("set them in a scenario's [faults] table"),
        "{out}"
    );

    let (code, _, err) = smtpsim(&["list", "symantec"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no preset called \"symantec\"; presets: asa-esmtp, "),
        "{err}"
    );
}

// The catalogue in the binary: every sim of `sims/` runs by name from anywhere.

#[test]
fn the_built_in_sims_are_exactly_those_of_sims() {
    let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sims"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut built_in: Vec<String> = smtpsim::catalogue::SIMS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    built_in.sort();
    assert_eq!(built_in, files, "src/catalogue.rs lists every sims/*.toml");
    for (name, text) in smtpsim::catalogue::SIMS {
        let file = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        assert_eq!(*text, std::fs::read_to_string(file).unwrap());
    }
}

#[test]
fn outside_the_project_sims_run_by_name_new_writes_one_and_check_keeps_snapshots() {
    let dir = std::env::temp_dir().join(format!("smtpsim-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let at = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_smtpsim"))
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("binary runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = at(&["run", "symantec-rset"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("354 Please start mail input."), "{out}");
    let (code, _, err) = at(&[
        "run",
        "sims/symantec-telnet.toml",
        "--seed",
        "21",
        "--faults",
        "lossy-network",
    ]);
    assert_eq!(code, 1, "the README's example from anywhere: {err}");
    let (code, out, _) = at(&["soak", "--seeds", "0..1"]);
    assert_eq!(code, 0, "{out}");
    let runs = format!("{} runs ·", smtpsim::catalogue::SIMS.len());
    assert!(out.contains(&runs), "one run per built-in sim: {out}");
    let (code, out, _) = at(&["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("\nsim          symantec-rset    "), "{out}");

    let (code, out, err) = at(&["new", "my-proxy", "--from", "symantec-telnet"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("wrote my-proxy.toml (from symantec-telnet)"),
        "{out}"
    );
    let text = std::fs::read_to_string(dir.join("my-proxy.toml")).unwrap();
    assert!(text.contains("\nname = \"my-proxy\"\n"), "{text}");
    assert!(text.contains("profile = \"symantec-telnet\""), "{text}");
    let (code, _, err) = at(&["run", "my-proxy.toml"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = at(&["new", "my-proxy"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("my-proxy.toml: ") && err.contains("never overwrites"),
        "{err}"
    );
    let (code, _, err) = at(&["new", "x", "--from", "no-such-sim"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--from no-such-sim: no such file, and no built-in sim"),
        "{err}"
    );

    let (code, _, err) = at(&["check", "symantec-rset"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`smtpsim check --accept` writes the first snapshots"),
        "{err}"
    );
    let (code, _, err) = at(&["check", "--accept", "symantec-rset", "my-proxy.toml"]);
    assert_eq!(code, 0, "{err}");
    let snap = std::fs::read_to_string(dir.join("snapshots/sims@my-proxy.toml.snap")).unwrap();
    assert!(
        snap.starts_with("---\nsource: smtpsim check\n")
            && snap.contains("\ninput_file: my-proxy.toml\n"),
        "metadata names what made it, not this project's test: {snap}"
    );
    assert!(dir.join("snapshots/sims@symantec-rset.toml.snap").exists());
    let (code, out, _) = at(&["check", "symantec-rset", "my-proxy.toml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 unchanged, 0 differ"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
