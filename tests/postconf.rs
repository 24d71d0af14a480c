//! `--postconf`: a Postfix main.cf read as Postfix reads it (continuations, comments, `$name`
//! expansion, defaults; errors with file:line), the postfix profile it configures, and the
//! profile so configured against replies recorded from Postfix 3.7.11 running each of the
//! configurations in `tests/parity/postconf/` (`tests/parity/postfix-instances.sh`).
//!
//! Golden replies are in `tests/parity/postconf/golden/`; with `SMTPSIM_POSTFIX_INSTANCES=1`
//! (the instances running on 127.0.0.1:10125..10127) they are asked afresh, and with
//! `SMTPSIM_PARITY_RECORD=1` as well, rewritten.

mod support;

use smtpsim::diff::script::{self, codes};
use smtpsim::profile::from_main_cf::{configure, Tls};
use smtpsim::profile::postconf::MainCf;
use smtpsim::profile::ServerConfig;
use std::path::{Path, PathBuf};
use support::{play, Serve};

fn parse(text: &str) -> Result<MainCf, String> {
    MainCf::parse("main.cf", text, "host.example.com")
}

fn get(text: &str, name: &str) -> Result<String, String> {
    parse(text)?.get(name)
}

#[test]
fn values_are_read_as_postfix_reads_them() {
    let table: &[(&str, &str, &str)] = &[
        ("a = b", "a", "b"),
        ("a=b  ", "a", "b"),
        ("  # comment\na = b", "a", "b"),
        ("a = b # not a comment", "a", "b # not a comment"),
        ("a = b,\n    c\n\n  d", "a", "b, c d"),
        ("a = b\n# a comment inside\n  c", "a", "b c"),
        ("a = 1\na = 2", "a", "2"),
        ("a = x\nb = $a y", "b", "x y"),
        ("a = x\nb = ${a}y", "b", "xy"),
        ("a = x\nb = $(a)y", "b", "xy"),
        ("a = x\nb = ${a?set}", "b", "set"),
        ("a =\nb = ${a?set}", "b", ""),
        ("a =\nb = ${a:empty}", "b", "empty"),
        ("a = x\nb = ${a?{$a and more}}", "b", "x and more"),
        ("b = $$a", "b", "$a"),
        ("b = $mail_name", "b", "Postfix"),
        ("", "myhostname", "host.example.com"),
        ("", "mydomain", "example.com"),
        ("myhostname = mail", "mydomain", "localdomain"),
        ("", "myorigin", "host.example.com"),
        (
            "",
            "mydestination",
            "host.example.com, localhost.example.com, localhost",
        ),
        (
            "mydomain = example.org",
            "smtpd_banner",
            "host.example.com ESMTP Postfix",
        ),
    ];
    for (text, name, want) in table {
        assert_eq!(get(text, name).as_deref(), Ok(*want), "{text:?} {name}");
    }
}

#[test]
fn bad_files_are_errors_with_file_and_line() {
    let table: &[(&str, &str)] = &[
        (
            "  b = c",
            "main.cf:1: a continuation line with nothing to continue",
        ),
        ("a = b\nnot a setting", "main.cf:2: expected name = value"),
        ("a = b\nb-c = d", "main.cf:2: bad parameter name"),
        (
            "a = x\n\nb = $nosuch",
            "main.cf:3: b: undefined parameter $nosuch",
        ),
        ("a = $b\nb = $a", "main.cf:1: a: $"),
        ("a = $a", "main.cf:1: a: $a refers to itself"),
        (
            "a = ${b",
            "main.cf:1: a: a '$' not followed by a parameter name",
        ),
    ];
    for (text, want) in table {
        let err = parse(text).expect_err(text);
        assert!(err.starts_with(want), "{text:?}: {err}");
    }
    let bad_values: &[(&str, &str)] = &[
        (
            "smtpd_timeout = 5x",
            "main.cf:1: smtpd_timeout = 5x: expected a time",
        ),
        (
            "message_size_limit = -1",
            "main.cf:1: message_size_limit = -1: expected a non-negative integer",
        ),
        (
            "\nsmtpd_helo_required = maybe",
            "main.cf:2: smtpd_helo_required = maybe: expected yes or no",
        ),
    ];
    for (text, want) in bad_values {
        let cf = parse(text).unwrap();
        let err = configure(&cf, ServerConfig::preset("postfix").unwrap()).expect_err(text);
        assert!(err.starts_with(want), "{text:?}: {err}");
    }
}

#[test]
fn main_cf_configures_the_postfix_profile() {
    let text = "myhostname = mx.example.net\nmydestination = $myhostname, example.net\n\
                inet_interfaces = 192.0.2.1, loopback-only\ninet_protocols = ipv4\n\
                recipient_delimiter = +-\nsmtpd_banner = $myhostname ESMTP ready\n\
                smtpd_timeout = 2m\nsmtpd_error_sleep_time = 0\ndisable_vrfy_command = yes\n\
                smtpd_discard_ehlo_keywords = etrn pipelining\nsmtpd_tls_security_level = none\n\
                mynetworks = 10.0.0.0/8 [::1]/128\nrelay_domains = example.com\n\
                smtpd_recipient_restrictions = check_client_access hash:/etc/x, reject_unauth_destination\n\
                header_checks = regexp:/etc/postfix/header_checks\nbiff = no";
    let cf = parse(text).unwrap();
    let from = configure(&cf, ServerConfig::preset("postfix").unwrap()).unwrap();
    let s = &from.server;
    assert_eq!(s.hostname, "mx.example.net");
    assert_eq!(
        s.local_domains,
        [
            "mx.example.net",
            "example.net",
            "[192.0.2.1]",
            "[127.0.0.1]"
        ]
    );
    assert_eq!(s.recipient_delimiter, "+-");
    assert_eq!(s.reply_banner, "220 mx.example.net ESMTP ready");
    assert_eq!(s.timeout.0.as_secs(), 120);
    assert_eq!(s.error_sleep.0.as_secs(), 0);
    assert_eq!(s.reply_vrfy_disabled, "502 5.5.1 VRFY command is disabled");
    for gone in ["ETRN", "PIPELINING", "VRFY"] {
        assert!(!s.ehlo_keywords.iter().any(|k| k == gone), "{gone}");
    }
    assert!(s.ehlo_keywords.iter().any(|k| k == "DSN"));
    assert_eq!(s.mynetworks, ["10.0.0.0/8", "[::1]/128"]);
    assert_eq!(s.relay_domains, ["example.com"]);
    assert_eq!(from.tls, Tls::Off);
    assert_eq!(
        from.unmodelled,
        [
            "header_checks",
            "smtpd_recipient_restrictions (check_client_access)",
            "smtpd_recipient_restrictions (hash:/etc/x)",
        ]
    );
    assert_eq!(from.no_effect, ["biff"]);
}

#[test]
fn strict_refuses_what_is_not_modelled() {
    let dir = std::env::temp_dir().join(format!("smtpsim-postconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("main.cf");
    std::fs::write(
        &file,
        "myhostname = mx.example.net\nheader_checks = regexp:/x\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smtpsim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--strict", "--postconf"])
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not modelled (--strict): header_checks"),
        "{stderr}"
    );
}

/// The configurations of `tests/parity/postfix-instances.sh` and their ports.
const CONFIGS: &[(&str, &str)] = &[
    ("stock", "127.0.0.1:10125"),
    ("hardened", "127.0.0.1:10126"),
    ("relay", "127.0.0.1:10127"),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/postconf")
}

#[test]
fn serve_postconf_answers_like_postfix_under_each_configuration() {
    let live = std::env::var("SMTPSIM_POSTFIX_INSTANCES").is_ok_and(|v| v == "1");
    let record = std::env::var("SMTPSIM_PARITY_RECORD").is_ok_and(|v| v == "1");
    let (mut scripts, mut failures) = (0, Vec::new());
    for (config, addr) in CONFIGS {
        let cf = dir().join(format!("{config}.cf"));
        let cf = cf.to_str().unwrap();
        // The instances run without error delays, as smtpsim diff's reference does.
        let serve = Serve::start_with(
            "text",
            &[
                "--postconf",
                cf,
                "--set",
                "mailboxes=[\"bob\", \"carol\", \"root\", \"postmaster\"]",
                "--set",
                "error_sleep=0s",
            ],
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join("scripts").join(config))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let steps = script::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let golden = dir()
                .join("golden")
                .join(config)
                .join(format!("{name}.txt"));
            let reference: Vec<String> = if live {
                let fresh = play(addr, &steps);
                if record {
                    std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                    std::fs::write(&golden, fresh.join("\n") + "\n").unwrap();
                }
                fresh
            } else {
                std::fs::read_to_string(&golden)
                    .unwrap_or_else(|_| panic!("no golden replies {}", golden.display()))
                    .lines()
                    .map(str::to_string)
                    .collect()
            };
            let ours = play(&serve.addr, &steps);
            scripts += 1;
            for i in 0..reference.len().max(ours.len()) {
                let r = reference.get(i).map_or("<nothing>", String::as_str);
                let o = ours.get(i).map_or("<nothing>", String::as_str);
                if codes(r) != codes(o) {
                    failures.push(format!(
                        "{config}/{name} #{i}: Postfix {r:?} / smtpsim {o:?}"
                    ));
                } else if r != o {
                    eprintln!("text differs: {config}/{name} #{i}: Postfix {r:?} / smtpsim {o:?}");
                }
            }
        }
    }
    assert!(scripts >= 7, "{scripts} scripts");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_scenario_names_its_main_cf_relative_to_itself() {
    let dir =
        std::env::temp_dir().join(format!("smtpsim-postconf-scenario-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::write(
        dir.join("etc/main.cf"),
        "myhostname = mx.example.net\nrecipient_delimiter = +\nsmtpd_recipient_limit = 7\n",
    )
    .unwrap();
    let scenario = "name = \"p\"\nseeds = [0]\n[client]\nprofile = \"ssmtp\"\n\
                    [[client.message]]\nfrom = \"a@example.com\"\nto = [\"bob+x@mx.example.net\"]\n\
                    body = \"x\\n\"\n[server]\nprofile = \"postfix\"\npostconf = \"etc/main.cf\"\n\
                    recipient_limit = 3\n";
    let path = dir.join("s.toml");
    std::fs::write(&path, scenario).unwrap();
    let loaded = smtpsim::scenario::Scenario::load(&path);
    std::fs::write(
        dir.join("bad.toml"),
        scenario.replace("etc/main.cf", "etc/none.cf"),
    )
    .unwrap();
    let missing = smtpsim::scenario::Scenario::load(&dir.join("bad.toml"));
    std::fs::remove_dir_all(&dir).unwrap();
    let server = loaded.expect("loads").server;
    assert_eq!(server.hostname, "mx.example.net");
    assert_eq!(server.recipient_delimiter, "+");
    // The scenario's own knobs apply over the file.
    assert_eq!(server.recipient_limit, 3);
    let err = missing
        .expect_err("a missing main.cf is an error")
        .to_string();
    assert!(
        err.contains("server.postconf: --postconf") && err.contains("none.cf"),
        "{err}"
    );
}
