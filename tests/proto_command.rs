//! Table and property tests for `proto::command`: `Command::parse` for every verb, MAIL/RCPT
//! `Path::parse`, the wire form, and parse(to_wire) round trips.

use proptest::prelude::*;
use smtpsim::proto::command::{Command, Path, PathError, Verb};

fn cmd(verb: Verb, args: &str) -> Option<Command> {
    Some(Command::new(verb, args))
}

#[test]
fn every_verb() {
    let cases: &[(&[u8], Option<Command>)] = &[
        (b"HELO client.example", cmd(Verb::Helo, "client.example")),
        (b"EHLO client.example", cmd(Verb::Ehlo, "client.example")),
        (
            b"MAIL FROM:<alice@example.com>",
            cmd(Verb::Mail, "FROM:<alice@example.com>"),
        ),
        (
            b"RCPT TO:<bob@example.org>",
            cmd(Verb::Rcpt, "TO:<bob@example.org>"),
        ),
        (b"DATA", cmd(Verb::Data, "")),
        (b"RSET", cmd(Verb::Rset, "")),
        (b"NOOP", cmd(Verb::Noop, "")),
        (b"QUIT", cmd(Verb::Quit, "")),
        (b"VRFY bob", cmd(Verb::Vrfy, "bob")),
        (b"EXPN staff", cmd(Verb::Expn, "staff")),
        (b"HELP", cmd(Verb::Help, "")),
        (b"HELP MAIL", cmd(Verb::Help, "MAIL")),
        (b"ETRN example.org", cmd(Verb::Etrn, "example.org")),
        (b"STARTTLS", cmd(Verb::StartTls, "")),
        (
            b"AUTH PLAIN AGJvYgBzZWNyZXQ=",
            cmd(Verb::Auth, "PLAIN AGJvYgBzZWNyZXQ="),
        ),
        (b"BDAT 1000 LAST", cmd(Verb::Bdat, "1000 LAST")),
        (
            b"XCLIENT NAME=spike.porcupine.org",
            cmd(Verb::Other("XCLIENT".into()), "NAME=spike.porcupine.org"),
        ),
        (
            b"frobnicate now",
            cmd(Verb::Other("FROBNICATE".into()), "now"),
        ),
        (
            b"Subject: hello",
            cmd(Verb::Other("SUBJECT:".into()), "hello"),
        ),
        (
            b"GET / HTTP/1.0",
            cmd(Verb::Other("GET".into()), "/ HTTP/1.0"),
        ),
        (b".", cmd(Verb::Other(".".into()), "")),
    ];
    for (line, expected) in cases {
        assert_eq!(
            &Command::parse(line),
            expected,
            "line {:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn case_whitespace_and_empty_lines() {
    let cases: &[(&[u8], Option<Command>)] = &[
        // Verbs are case-insensitive; arguments keep their case.
        (b"helo Client.Example", cmd(Verb::Helo, "Client.Example")),
        (b"EhLo x", cmd(Verb::Ehlo, "x")),
        (b"mail from:<A@B>", cmd(Verb::Mail, "from:<A@B>")),
        (b"starttls", cmd(Verb::StartTls, "")),
        (b"bdat 0 last", cmd(Verb::Bdat, "0 last")),
        // Leading spaces and tabs are skipped (Postfix tolerates them).
        (b"   NOOP", cmd(Verb::Noop, "")),
        (b"\tNOOP", cmd(Verb::Noop, "")),
        (b" \t RCPT TO:<a@b>", cmd(Verb::Rcpt, "TO:<a@b>")),
        // Runs of spaces/tabs between verb and arguments; trailing blanks dropped.
        (b"MAIL    FROM:<a@b>", cmd(Verb::Mail, "FROM:<a@b>")),
        (b"NOOP\tfoo", cmd(Verb::Noop, "foo")),
        (b"NOOP \t foo bar \t ", cmd(Verb::Noop, "foo bar")),
        (b"QUIT   ", cmd(Verb::Quit, "")),
        // Inner spacing of the arguments is kept.
        (
            b"MAIL FROM:<a@b>  SIZE=10",
            cmd(Verb::Mail, "FROM:<a@b>  SIZE=10"),
        ),
        // Postfix tokenises on any isspace(): a bare CR separates the verb from its argument.
        (b"NOOP\rQUIT", cmd(Verb::Noop, "QUIT")),
        // Empty and whitespace-only lines are not commands.
        (b"", None),
        (b" ", None),
        (b"\t", None),
        (b" \t  \t", None),
        (b"\r", None),
    ];
    for (line, expected) in cases {
        assert_eq!(
            &Command::parse(line),
            expected,
            "line {:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn invalid_utf8_is_kept_lossily() {
    let parsed = Command::parse(b"NOOP \xff\xfe").unwrap();
    assert_eq!(parsed.verb, Verb::Noop);
    assert_eq!(parsed.args, "\u{fffd}\u{fffd}");
    let parsed = Command::parse(b"\xc3\xa9T\xc3\xa9 x").unwrap();
    assert_eq!(
        parsed.verb,
        Verb::Other("\u{e9}T\u{e9}".into()),
        "only ASCII letters are upper-cased"
    );
}

#[test]
fn verb_names_and_display() {
    let verbs = [
        (Verb::Helo, "HELO", true),
        (Verb::Ehlo, "EHLO", false),
        (Verb::Mail, "MAIL", true),
        (Verb::Rcpt, "RCPT", true),
        (Verb::Data, "DATA", true),
        (Verb::Rset, "RSET", true),
        (Verb::Noop, "NOOP", true),
        (Verb::Quit, "QUIT", true),
        (Verb::Vrfy, "VRFY", false),
        (Verb::Expn, "EXPN", false),
        (Verb::Help, "HELP", false),
        (Verb::Etrn, "ETRN", false),
        (Verb::StartTls, "STARTTLS", false),
        (Verb::Auth, "AUTH", false),
        (Verb::Bdat, "BDAT", false),
        (Verb::Other("XFOO".into()), "XFOO", false),
    ];
    for (verb, name, minimum) in verbs {
        assert_eq!(verb.name(), name);
        assert_eq!(verb.to_string(), name);
        assert_eq!(
            Verb::parse(&name.to_ascii_lowercase()),
            verb,
            "{name} lower-case"
        );
        assert_eq!(
            verb.is_rfc821_minimum(),
            minimum,
            "{name} in RFC 821 minimum"
        );
    }
}

#[test]
fn constructors_and_wire_form() {
    let cases: &[(Command, &[u8])] = &[
        (
            Command::helo(Some("client.example")),
            b"HELO client.example\r\n",
        ),
        (Command::helo(None), b"HELO\r\n"),
        (Command::ehlo("client.example"), b"EHLO client.example\r\n"),
        (
            Command::mail("alice@example.com", &[]),
            b"MAIL FROM:<alice@example.com>\r\n",
        ),
        (
            Command::mail("", &["SIZE=1000", "BODY=8BITMIME"]),
            b"MAIL FROM:<> SIZE=1000 BODY=8BITMIME\r\n",
        ),
        (
            Command::rcpt("bob@example.org"),
            b"RCPT TO:<bob@example.org>\r\n",
        ),
        (Command::bare(Verb::Data), b"DATA\r\n"),
        (Command::bare(Verb::StartTls), b"STARTTLS\r\n"),
        (
            Command::new(Verb::Other("XFOO".into()), "a b"),
            b"XFOO a b\r\n",
        ),
    ];
    for (command, wire) in cases {
        assert_eq!(command.to_wire(), wire.to_vec(), "{command}");
        let line = &wire[..wire.len() - 2];
        assert_eq!(
            Command::parse(line).as_ref(),
            Some(command),
            "round trip of {command}"
        );
    }
    assert_eq!(Command::mail("a@b", &[]).name(), "MAIL");
    assert_eq!(Command::new(Verb::Other("XFOO".into()), "").name(), "XFOO");
}

fn path(address: &str, params: &[(&str, Option<&str>)]) -> Result<Path, PathError> {
    Ok(Path {
        address: address.to_string(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect(),
    })
}

#[test]
fn path_parse_table() {
    let cases: &[(&str, &str, Result<Path, PathError>)] = &[
        ("FROM:<a@b>", "FROM:", path("a@b", &[])),
        ("FROM: <a@b>", "FROM:", path("a@b", &[])),
        ("FROM:   <a@b>", "FROM:", path("a@b", &[])),
        ("FROM:a@b", "FROM:", path("a@b", &[])),
        ("FROM: a@b", "FROM:", path("a@b", &[])),
        ("FROM:<>", "FROM:", path("", &[])),
        (
            "from:<Alice@Example.COM>",
            "FROM:",
            path("Alice@Example.COM", &[]),
        ),
        ("TO:<bob@example.org>", "TO:", path("bob@example.org", &[])),
        ("to:bob", "TO:", path("bob", &[])),
        (
            "FROM:<a@b> SIZE=1000 BODY=8BITMIME",
            "FROM:",
            path("a@b", &[("SIZE", Some("1000")), ("BODY", Some("8BITMIME"))]),
        ),
        (
            "FROM:<a@b>  size=1000   smtputf8",
            "FROM:",
            path("a@b", &[("SIZE", Some("1000")), ("SMTPUTF8", None)]),
        ),
        (
            "FROM:a@b SIZE=10",
            "FROM:",
            path("a@b", &[("SIZE", Some("10"))]),
        ),
        (
            "FROM:<> RET=HDRS ENVID=x=y",
            "FROM:",
            path("", &[("RET", Some("HDRS")), ("ENVID", Some("x=y"))]),
        ),
        (
            "TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org",
            "TO:",
            path(
                "bob@example.org",
                &[
                    ("NOTIFY", Some("SUCCESS,FAILURE")),
                    ("ORCPT", Some("rfc822;bob@example.org")),
                ],
            ),
        ),
        (
            "FROM:<@relay.example:a@b>",
            "FROM:",
            path("@relay.example:a@b", &[]),
        ),
        // The keyword is required.
        ("<a@b>", "FROM:", Err(PathError::Syntax)),
        ("FROM", "FROM:", Err(PathError::Syntax)),
        ("FROM <a@b>", "FROM:", Err(PathError::Syntax)),
        ("", "FROM:", Err(PathError::Syntax)),
        ("TO:<a@b>", "FROM:", Err(PathError::Syntax)),
        ("FROM:<a@b>", "TO:", Err(PathError::Syntax)),
        // Postfix: `MAIL FROM:` with no address at all is a syntax error (argc < 3).
        ("FROM:", "FROM:", Err(PathError::Syntax)),
        ("TO:   ", "TO:", Err(PathError::Syntax)),
        // Non-ASCII right where the keyword should be: an error, not a panic.
        ("FROM\u{e9}", "FROM:", Err(PathError::Syntax)),
        ("FR\u{d6}M:<a@b>", "FROM:", Err(PathError::Syntax)),
        ("\u{e9}\u{e9}\u{e9}", "TO:", Err(PathError::Syntax)),
        // Malformed addresses.
        ("FROM:<a@b", "FROM:", Err(PathError::BadAddress)),
        ("FROM:a@b>", "FROM:", Err(PathError::BadAddress)),
        ("FROM:<<a@b>>", "FROM:", Err(PathError::BadAddress)),
        ("FROM:<a<b@c>", "FROM:", Err(PathError::BadAddress)),
        ("FROM:<", "FROM:", Err(PathError::BadAddress)),
        ("FROM:<a b@c>", "FROM:", Err(PathError::BadAddress)),
        ("FROM:<a\tb@c>", "FROM:", Err(PathError::BadAddress)),
        ("FROM:<a\u{1}@b>", "FROM:", Err(PathError::BadAddress)),
    ];
    for (args, keyword, expected) in cases {
        assert_eq!(
            &Path::parse(args, keyword),
            expected,
            "Path::parse({args:?}, {keyword:?})"
        );
    }
}

#[test]
fn command_path() {
    let mail = Command::parse(b"MAIL FROM:<alice@Example.COM> SIZE=42").unwrap();
    let p = mail.path().unwrap();
    assert_eq!(p.address, "alice@Example.COM");
    assert_eq!(p.domain(), "example.com");
    assert_eq!(p.param("size"), Some("42"));
    assert_eq!(p.param("BODY"), None);

    let rcpt = Command::parse(b"RCPT TO:<postmaster>").unwrap();
    assert_eq!(rcpt.path().unwrap().domain(), "", "no @: empty domain");
    let keyword_only = Command::parse(b"RCPT TO:<a@b> NOTIFY")
        .unwrap()
        .path()
        .unwrap();
    assert_eq!(
        keyword_only.param("NOTIFY"),
        None,
        "a parameter without value has no value"
    );
    assert_eq!(keyword_only.params, vec![("NOTIFY".to_string(), None)]);

    assert_eq!(
        Command::parse(b"RCPT FROM:<a@b>").unwrap().path(),
        Err(PathError::Syntax)
    );
    assert_eq!(
        Command::parse(b"MAIL TO:<a@b>").unwrap().path(),
        Err(PathError::Syntax)
    );
    assert_eq!(
        Command::parse(b"VRFY <a@b>").unwrap().path(),
        Err(PathError::Syntax),
        "only MAIL/RCPT have paths"
    );
    // A multi-byte character straddling the keyword's length must not panic.
    assert_eq!(
        Command::parse(b"MAIL FROM\xc3\xa9").unwrap().path(),
        Err(PathError::Syntax)
    );
    assert_eq!(
        Command::parse(b"RCPT T\xc3\xa9").unwrap().path(),
        Err(PathError::Syntax)
    );
}

/// Verbs a generator may pick; `Other` names avoid the known ones.
fn any_verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        Just(Verb::Helo),
        Just(Verb::Ehlo),
        Just(Verb::Mail),
        Just(Verb::Rcpt),
        Just(Verb::Data),
        Just(Verb::Rset),
        Just(Verb::Noop),
        Just(Verb::Quit),
        Just(Verb::Vrfy),
        Just(Verb::Expn),
        Just(Verb::Help),
        Just(Verb::Etrn),
        Just(Verb::StartTls),
        Just(Verb::Auth),
        Just(Verb::Bdat),
        "X[A-Z0-9-]{1,10}".prop_map(Verb::Other),
    ]
}

/// Arguments as a command carries them: no leading or trailing blanks, no line breaks.
fn any_args() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[!-~]([ -~]{0,40}[!-~])?",
        "(FROM|TO):<[a-z0-9.]{1,8}@[a-z0-9.]{1,8}>( [A-Z]{1,6}=[A-Za-z0-9]{1,6}){0,3}",
    ]
}

proptest! {
    #[test]
    fn wire_round_trip(verb in any_verb(), args in any_args()) {
        let command = Command::new(verb, args);
        let wire = command.to_wire();
        prop_assert!(wire.ends_with(b"\r\n"));
        let parsed = Command::parse(&wire[..wire.len() - 2]);
        prop_assert_eq!(parsed, Some(command));
    }

    #[test]
    fn mail_and_rcpt_constructors_round_trip_through_path(
        local in "[a-z0-9._+-]{1,12}",
        domain in "[a-z0-9-]{1,10}\\.(org|com|example)",
        size in 0u64..100_000_000,
    ) {
        let address = format!("{local}@{domain}");
        let size_param = format!("SIZE={size}");
        let mail = Command::mail(&address, &[&size_param, "BODY=8BITMIME"]);
        let wire = mail.to_wire();
        let p = Command::parse(&wire[..wire.len() - 2]).and_then(|c| c.path().ok()).expect("MAIL parses");
        prop_assert_eq!(&p.address, &address);
        prop_assert_eq!(p.param("SIZE"), Some(&*size.to_string()));
        prop_assert_eq!(p.param("BODY"), Some("8BITMIME"));
        let rcpt = Command::rcpt(&address);
        let wire = rcpt.to_wire();
        let p = Command::parse(&wire[..wire.len() - 2]).unwrap().path().unwrap();
        prop_assert_eq!(p.domain(), domain);
        prop_assert_eq!(p.address, address);
    }

    #[test]
    fn arbitrary_lines_never_panic(line in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Some(command) = Command::parse(&line) {
            prop_assert!(!command.name().is_empty());
            prop_assert!(!command.args.starts_with([' ', '\t']));
            let _ = command.path();
            let _ = Path::parse(&command.args, "FROM:");
            let _ = Path::parse(&command.args, "TO:");
        }
    }

    #[test]
    fn arbitrary_text_never_panics_in_path_parse(args in "\\PC{0,30}", keyword in prop_oneof![Just("FROM:"), Just("TO:")]) {
        let _ = Path::parse(&args, keyword);
    }
}
