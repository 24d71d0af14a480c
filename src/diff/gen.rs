//! The session generator: from a seed, a random but plausible SMTP client session as a
//! parity script. A grammar of every verb with valid, odd and invalid arguments, address
//! forms (address extensions, unquoted spaces inside `<...>`, interface literals), several-word
//! VRFY, ESMTP parameters, pipelined groups, RSET/HELO/EHLO at any stage, bare LF and CR,
//! over-long and empty lines, content with dots and NULs, and junk commands up to the limits.
//!
//! A light model of the server (greeted? in a transaction? a recipient surely accepted?)
//! keeps sessions plausible and counts the replies each step is owed. Where the model cannot
//! know (an odd address Postfix may take or refuse), the session is written to read the same
//! either way: `DATA` then always comes with content and its final `.`.

use super::script::Step;
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What the generated sessions are sent to: the reference's mail (local domains, mailboxes).
pub const LOCAL_USERS: &[&str] = &["bob", "carol", "root", "postmaster"];
const UNKNOWN_USERS: &[&str] = &["alice", "dave", "eve", "zed"];
const LOCAL_DOMAINS: &[&str] = &["example.org", "localhost", "mail.example.org"];

#[derive(Debug, Default)]
struct Model {
    /// A transaction was opened by a MAIL the server surely accepted.
    txn: bool,
    /// The model cannot tell whether a transaction is open.
    unsure: bool,
    /// A recipient was surely accepted in the open transaction.
    rcpt: bool,
    /// A MAIL was refused for its SIZE (Postfix refuses every later MAIL too).
    size_refused: bool,
}

/// Generates session `session` (the seed of that one session).
pub fn session(session: u64) -> Vec<Step> {
    let mut g = Gen {
        rng: crate::seeds::rng(session, crate::seeds::Stream::Session),
        model: Model::default(),
        steps: Vec::new(),
    };
    g.run();
    g.steps
}

struct Gen {
    rng: ChaCha8Rng,
    model: Model,
    steps: Vec<Step>,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.choose(&mut self.rng).copied().unwrap_or("")
    }

    fn run(&mut self) {
        // Most sessions greet first, as clients do; some do anything first.
        if self.chance(0.85) {
            let helo = self.helo();
            self.cmd(&helo);
        }
        let length = self.rng.random_range(1..=18);
        for _ in 0..length {
            if !self.action() {
                return; // the session ended (QUIT, or something the server hangs up on)
            }
        }
        self.cmd("QUIT");
    }

    /// One action; false if it ends the session.
    fn action(&mut self) -> bool {
        let roll = self.rng.random_range(0..100);
        match roll {
            0..=9 => {
                let helo = self.helo();
                self.model = Model {
                    size_refused: self.model.size_refused,
                    ..Model::default()
                };
                self.cmd(&helo);
            }
            10..=29 => self.transaction(),
            30..=39 => {
                let mail = self.mail();
                self.cmd(&mail);
            }
            40..=49 => {
                let rcpt = self.rcpt();
                self.cmd(&rcpt);
            }
            50..=55 => self.data(),
            56..=61 => self.pipelined_group(),
            62..=65 => {
                let rset = self.rset();
                self.cmd(&rset);
            }
            66..=71 => {
                let other = self.other_verb();
                self.cmd(&other);
            }
            72..=77 => self.junk(),
            78..=83 => self.odd_framing(),
            84..=86 => self.bdat(),
            87..=88 => self.flood(),
            89..=91 => {
                let line = self.rules_breaker();
                self.cmd(&line);
                return false;
            }
            92..=93 => {
                let quit = format!("QUIT{}", self.arg_tail());
                self.cmd(&quit);
                return false;
            }
            _ => {
                // Lower-case or mixed-case verbs, leading blanks.
                let mail = self.mail();
                let line = match self.rng.random_range(0..3) {
                    0 => mail.to_ascii_lowercase(),
                    1 => format!(" {mail}"),
                    _ => format!("\t{mail}"),
                };
                self.cmd(&line);
            }
        }
        true
    }

    fn cmd(&mut self, line: &str) {
        self.steps.push(Step::command(line));
    }

    fn helo(&mut self) -> String {
        let verb = if self.chance(0.6) { "EHLO" } else { "HELO" };
        let verb = if self.chance(0.1) {
            verb.to_ascii_lowercase()
        } else {
            verb.to_string()
        };
        let name = match self.rng.random_range(0..14) {
            0 => "",
            1 => "[127.0.0.1]",
            2 => "[IPv6:::1]",
            3 => "client.example.com extra words",
            4 => "localhost",
            5 => "host_with_underscore",
            6 => "münchen.example",
            7 => "-bad-.example",
            8 => "a..b",
            9 => "127.0.0.1",
            10 => " spaced.example ",
            _ => "client.example.com",
        };
        if name.is_empty() {
            verb
        } else {
            format!("{verb} {name}")
        }
    }

    /// A local part, and whether the reference surely has such a mailbox.
    fn local_part(&mut self) -> (String, bool) {
        match self.rng.random_range(0..20) {
            0..=7 => (self.pick(LOCAL_USERS).to_string(), true),
            8 => (self.pick(LOCAL_USERS).to_ascii_uppercase(), true),
            9..=10 => (self.pick(UNKNOWN_USERS).to_string(), false),
            // Address extensions (recipient_delimiter): `+`, `-`, several, empty, leading.
            11 => {
                let user = self.pick(LOCAL_USERS);
                let form = self.pick(&["{}+tag", "{}-tag", "{}+a+b", "{}+", "+{}", "{}-request"]);
                (form.replace("{}", user), false)
            }
            12 => (format!("\"{}\"", self.pick(LOCAL_USERS)), false),
            13 => (
                self.pick(&["\"b o b\"", "\"bob@x\"", "\"\"", "\"b\\\"ob\""])
                    .into(),
                false,
            ),
            14 => (
                self.pick(&["bob.smith", ".bob", "bob.", "bo..b", "b!ob"])
                    .into(),
                false,
            ),
            15 => (
                self.pick(&["bob%example.org", "example.com!bob", "bob%example.com"])
                    .into(),
                false,
            ),
            16 => (self.pick(&["üser", "bøb", "用户"]).into(), false),
            17 => ("x".repeat(self.rng.random_range(60..300)), false),
            18 => (
                self.pick(&[
                    "a#b", "a$b", "a&b", "a'b", "a*b", "a/b", "a=b", "a?b", "a^b", "a`b", "a{b}",
                    "a|b", "a~b",
                ])
                .into(),
                false,
            ),
            _ => (self.pick(LOCAL_USERS).to_string(), true),
        }
    }

    /// A domain, and whether it is surely one of the reference's local domains.
    fn domain(&mut self) -> (String, bool) {
        match self.rng.random_range(0..20) {
            0..=9 => (self.pick(LOCAL_DOMAINS).to_string(), true),
            10 => ("EXAMPLE.ORG".into(), true),
            11..=12 => (
                self.pick(&["example.com", "gmail.com", "example.net"])
                    .into(),
                false,
            ),
            13 => (
                self.pick(&["[127.0.0.1]", "[IPv6:::1]", "[1.2.3.4]", "[300.1.1.1]"])
                    .into(),
                false,
            ),
            14 => (
                self.pick(&[
                    "example.org.",
                    "exa..mple.org",
                    ".example.org",
                    "-example.org",
                ])
                .into(),
                false,
            ),
            15 => (
                self.pick(&["", "localhost.localdomain", "ex_ample.org"])
                    .into(),
                false,
            ),
            16 => (
                self.pick(&["exämple.org", "münchen.de", "xn--mnchen-3ya.de"])
                    .into(),
                false,
            ),
            17 => (
                format!("{}.org", "d".repeat(self.rng.random_range(64..300))),
                false,
            ),
            _ => (self.pick(LOCAL_DOMAINS).to_string(), true),
        }
    }

    /// An address as written after `FROM:`/`TO:`, and whether it is surely a local mailbox.
    fn path(&mut self) -> (String, bool) {
        let (local, known) = self.local_part();
        let (domain, local_domain) = self.domain();
        let addr = format!("{local}@{domain}");
        let sure = known && local_domain;
        match self.rng.random_range(0..25) {
            0..=13 => (format!("<{addr}>"), sure),
            14 => (addr, sure),
            15 => ("<>".into(), false),
            16 => (format!("<@relay.example.com:{addr}>"), false),
            17 => (format!("<@a.example,@b.example:{addr}>"), false),
            18 => (format!("Bob Smith <{addr}>"), false),
            19 => (format!("< {addr} >"), false),
            20 => (
                self.pick(&[
                    "<<bob@example.org>>",
                    "<bob@example.org",
                    "bob@example.org>",
                    "<bob@example.org> <carol@example.org>",
                    "<bob@example.org, carol@example.org>",
                ])
                .into(),
                false,
            ),
            21 => (
                self.pick(&[
                    "",
                    " ",
                    "<",
                    ">",
                    "<@>",
                    "<@example.org>",
                    "@example.org",
                    "bob",
                    "<bob>",
                    "<bob@>",
                ])
                .into(),
                false,
            ),
            22 => (format!("<{addr}>(comment)"), false),
            // Unquoted white space inside the brackets: two words are two addresses to
            // Postfix, one word and an operator are one.
            23 if self.chance(0.5) => {
                let form = self.pick(&[
                    "<{l} smith@{d}>",
                    "<alice {l}@{d}>",
                    "<{l}@{d} x>",
                    "<{l} @{d}>",
                    "<{l}@ {d}>",
                    "<{l}. smith@{d}>",
                    "<\"{l} smith\"@{d}>",
                    "<Bob Smith <{l}@{d}>>",
                ]);
                (form.replace("{l}", &local).replace("{d}", &domain), false)
            }
            _ => (format!("<{}>", local), false),
        }
    }

    fn mail_params(&mut self) -> String {
        let mut out = String::new();
        let n = match self.rng.random_range(0..10) {
            0..=5 => 0,
            6..=8 => 1,
            _ => self.rng.random_range(2..=4),
        };
        for _ in 0..n {
            let p = match self.rng.random_range(0..22) {
                0..=2 => format!("SIZE={}", self.rng.random_range(0..20_000u32)),
                3 => "SIZE=99999999".into(),
                4 => self
                    .pick(&[
                        "SIZE=",
                        "SIZE",
                        "SIZE=abc",
                        "SIZE=-1",
                        "SIZE=10240000",
                        "SIZE=10240001",
                        "SIZE=99999999999999999999",
                        "size=100",
                    ])
                    .into(),
                5..=6 => self
                    .pick(&[
                        "BODY=7BIT",
                        "BODY=8BITMIME",
                        "BODY=BINARYMIME",
                        "BODY=junk",
                        "BODY",
                        "body=8bitmime",
                    ])
                    .into(),
                7 => self.pick(&["SMTPUTF8", "SMTPUTF8=yes", "smtputf8"]).into(),
                8 => self
                    .pick(&["RET=FULL", "RET=HDRS", "RET=bad", "RET", "RET=FULL"])
                    .into(),
                9 => self
                    .pick(&[
                        "ENVID=abc123",
                        "ENVID=a+2Bb",
                        "ENVID=",
                        "ENVID=bad+zz",
                        "ENVID",
                    ])
                    .into(),
                10 => self
                    .pick(&["AUTH=<>", "AUTH=bob@example.org", "AUTH"])
                    .into(),
                11 => self
                    .pick(&["XFOO=bar", "XFOO", "FOO=", "=bar", "X-Y=z"])
                    .into(),
                12 => self
                    .pick(&["NOTIFY=NEVER", "ORCPT=rfc822;bob@example.org"])
                    .into(),
                13 => self
                    .pick(&["TRANSID=<x@y>", "MT-PRIORITY=3", "REQUIRETLS", "HOLDFOR=10"])
                    .into(),
                14 => self.pick(&["VERP", "XVERP", "XVERP=+="]).into(),
                _ => format!("SIZE={}", self.rng.random_range(0..2000u32)),
            };
            out.push(' ');
            out.push_str(&p);
        }
        out
    }

    fn rcpt_params(&mut self) -> String {
        let mut out = String::new();
        let n = match self.rng.random_range(0..10) {
            0..=6 => 0,
            7..=8 => 1,
            _ => self.rng.random_range(2..=3),
        };
        for _ in 0..n {
            let p = self.pick(&[
                "NOTIFY=NEVER",
                "NOTIFY=SUCCESS,FAILURE",
                "NOTIFY=DELAY",
                "NOTIFY=never",
                "NOTIFY=NEVER,SUCCESS",
                "NOTIFY=bogus",
                "NOTIFY=",
                "NOTIFY",
                "ORCPT=rfc822;bob@example.org",
                "ORCPT=rfc822;bob+2Bx@example.org",
                "ORCPT=bogus",
                "ORCPT=utf-8;bob@example.org",
                "ORCPT=",
                "XFOO=bar",
                "SIZE=100",
                "BODY=8BITMIME",
                "SMTPUTF8",
                "RRVS=2030-01-01T00:00:00Z",
            ]);
            out.push(' ');
            out.push_str(p);
        }
        out
    }

    fn keyword_form(&mut self, keyword: &str) -> String {
        match self.rng.random_range(0..14) {
            0 => keyword.to_ascii_lowercase(),
            1 => keyword.replace(':', " :"),
            2 => keyword.trim_end_matches(':').to_string(),
            3 => format!("{keyword} "),
            _ => keyword.to_string(),
        }
    }

    /// A MAIL line; updates the model.
    fn mail(&mut self) -> String {
        let (path, sure) = if self.chance(0.6) {
            let user = self.pick(&[
                "alice@example.com",
                "bob@example.org",
                "someone@example.net",
            ]);
            (format!("<{user}>"), true)
        } else if self.chance(0.2) {
            ("<>".to_string(), true)
        } else {
            self.path()
        };
        let keyword = self.keyword_form("FROM:");
        let params = self.mail_params();
        let plain = keyword == "FROM:" && params.is_empty();
        // Sure: a plain, well-formed MAIL outside a transaction opens one.
        if self.model.txn || self.model.unsure || self.model.size_refused {
            self.model.unsure |= !self.model.txn;
        } else if sure && plain {
            self.model.txn = true;
            self.model.rcpt = false;
        } else {
            self.model.unsure = true;
        }
        format!("MAIL {keyword}{path}{params}")
    }

    fn rcpt(&mut self) -> String {
        let (path, sure) = self.path();
        let keyword = self.keyword_form("TO:");
        let params = self.rcpt_params();
        if self.model.txn && sure && keyword == "TO:" && params.is_empty() {
            self.model.rcpt = true;
        }
        format!("RCPT {keyword}{path}{params}")
    }

    /// A transaction that surely gets as far as DATA when the model is sure of it.
    fn transaction(&mut self) {
        if !self.model.txn && !self.model.unsure && !self.model.size_refused {
            let from = self.pick(&["<alice@example.com>", "<>", "<bob@example.org>"]);
            self.cmd(&format!("MAIL FROM:{from}"));
            self.model.txn = true;
            self.model.rcpt = false;
        } else {
            let mail = self.mail();
            self.cmd(&mail);
        }
        for _ in 0..self.rng.random_range(1..=3) {
            if self.chance(0.6) {
                let user = self.pick(LOCAL_USERS);
                let domain = self.pick(LOCAL_DOMAINS);
                self.cmd(&format!("RCPT TO:<{user}@{domain}>"));
                self.model.rcpt |= self.model.txn;
            } else {
                let rcpt = self.rcpt();
                self.cmd(&rcpt);
            }
        }
        if self.chance(0.7) {
            self.data();
        }
    }

    /// DATA (sometimes with an argument), then content and its end when it may be accepted.
    fn data(&mut self) {
        let arg = if self.chance(0.08) {
            self.pick(&[" x", " BODY=8BITMIME", " "]).to_string()
        } else {
            String::new()
        };
        let surely_refused = !self.model.txn && !self.model.unsure;
        self.cmd(&format!("DATA{arg}"));
        if surely_refused {
            return;
        }
        // Not sure of the 354: the content and its "." follow anyway, so that the session
        // reads the same either way (refused, they are commands and "." ends the session).
        self.content();
        self.model = Model {
            size_refused: self.model.size_refused,
            ..Model::default()
        };
    }

    /// Message content and its end (dot-stuffing, NULs, long lines, bare LF, odd endings).
    fn content(&mut self) {
        if self.chance(0.8) {
            self.steps.push(Step::content("Subject: generated"));
            self.steps.push(Step::content(""));
        }
        for _ in 0..self.rng.random_range(0..6) {
            let step = match self.rng.random_range(0..12) {
                0 => Step::content("..leading dot"),
                1 => Step::content(".. "),
                2 => Step::raw(b"nul\0byte\r\n", 0),
                3 => Step::content(&"L".repeat(self.rng.random_range(990..5000))),
                4 => Step::raw(b"bare lf\n", 0),
                5 => Step::raw(b"bare cr\rinside\r\n", 0),
                6 => Step::content(""),
                7 => Step::content("QUIT"),
                8 => Step::content(".not-stuffed"),
                _ => Step::content("Some body text."),
            };
            self.steps.push(step);
        }
        let end: &[u8] = match self.rng.random_range(0..10) {
            0 => b".\n",
            1 => b"\n.\n",
            _ => b".\r\n",
        };
        if end == b".\r\n" {
            self.cmd(".");
        } else {
            self.steps.push(Step::raw(end, 1));
        }
    }

    fn pipelined_group(&mut self) {
        let n = self.rng.random_range(2..=5);
        let mut lines = Vec::new();
        for _ in 0..n {
            let line = match self.rng.random_range(0..7) {
                0 => self.mail(),
                1..=2 => self.rcpt(),
                3 => "NOOP".into(),
                4 => self.rset(),
                5 => self.helo(),
                _ => self.other_verb(),
            };
            lines.push(line);
        }
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate() {
            // The script format writes a pipelined line only as printable ASCII.
            if i == last || !line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                self.cmd(line);
            } else {
                self.steps.push(Step::pipelined(line));
            }
        }
    }

    fn rset(&mut self) -> String {
        let arg = if self.chance(0.15) { " now" } else { "" };
        if arg.is_empty() {
            self.model.txn = false;
            self.model.rcpt = false;
            self.model.unsure = false;
        }
        format!("RSET{arg}")
    }

    fn arg_tail(&mut self) -> String {
        if self.chance(0.8) {
            String::new()
        } else {
            self.pick(&[" now", " x y z", " <bob@example.org>"])
                .to_string()
        }
    }

    fn other_verb(&mut self) -> String {
        match self.rng.random_range(0..16) {
            0 => format!("NOOP{}", self.arg_tail()),
            1 => {
                let (local, _) = self.local_part();
                let (domain, _) = self.domain();
                match self.rng.random_range(0..7) {
                    0 => format!("VRFY {local}"),
                    1 => format!("VRFY <{local}@{domain}>"),
                    2 => "VRFY".into(),
                    // Several words: Postfix joins them and reads one address (or two).
                    3 => format!("VRFY Bob Smith <{local}@{domain}>"),
                    4 => format!("VRFY {local} smith"),
                    5 => format!("VRFY \"Bob\" <{local}@{domain}> SMTPUTF8"),
                    _ => format!("VRFY {local}@{domain} SMTPUTF8"),
                }
            }
            2 => self
                .pick(&["EXPN root", "EXPN", "HELP", "HELP MAIL"])
                .into(),
            3 => self
                .pick(&[
                    "ETRN",
                    "ETRN example.org",
                    "ETRN @example.org",
                    "ETRN #example.org",
                    "ETRN example.com",
                ])
                .into(),
            4 => self
                .pick(&[
                    "AUTH PLAIN",
                    "AUTH LOGIN",
                    "AUTH PLAIN AGJvYgBzZWNyZXQ=",
                    "AUTH",
                ])
                .into(),
            5 => self.pick(&["STARTTLS"]).into(),
            6 => self
                .pick(&[
                    "TURN",
                    "XCLIENT NAME=x",
                    "XFORWARD NAME=x",
                    "SEND FROM:<a@b>",
                    "SOML FROM:<a@b>",
                    "SAML FROM:<a@b>",
                    "ATRN",
                    "VERB",
                    "XADR",
                    "BDATX",
                    "MAILFROM:<a@b>",
                ])
                .into(),
            7 => self.pick(&["HELO", "EHLO"]).into(),
            _ => format!("NOOP{}", self.arg_tail()),
        }
    }

    /// Lines Postfix answers with an error: unknown verbs, empty and blank lines.
    fn junk(&mut self) {
        for _ in 0..self.rng.random_range(1..=4) {
            let line = match self.rng.random_range(0..6) {
                0 => String::new(),
                1 => "   ".into(),
                2 => "\t".into(),
                3 => "FOO bar".into(),
                4 => format!("X{}", "Y".repeat(self.rng.random_range(1..40))),
                _ => "mail".into(),
            };
            self.cmd(&line);
        }
    }

    /// Bare LF, bare CR, over-long lines, NULs in commands.
    fn odd_framing(&mut self) {
        let noop_or_rset = if self.chance(0.5) { "NOOP" } else { "RSET" };
        match self.rng.random_range(0..9) {
            0 => self
                .steps
                .push(Step::raw(format!("{noop_or_rset}\n").as_bytes(), 1)),
            1 => {
                // A command ended by a bare LF, then one ended by CRLF.
                self.steps.push(Step::raw(b"NOOP\n", 1));
                self.steps.push(Step::raw(b"NOOP\r\n", 1));
            }
            2 => self.steps.push(Step::raw(b"NOOP\rQUIT\r\n", 1)),
            3 => {
                let n = self.pick(&[
                    "510", "511", "600", "2040", "2047", "2048", "2049", "3000", "9000",
                ]);
                let n: usize = n.parse().unwrap_or(600);
                self.cmd(&format!("NOOP {}", "z".repeat(n.saturating_sub(5))));
            }
            4 => {
                let n = self.rng.random_range(2000..2100);
                let mail = format!("MAIL FROM:<{}@example.org>", "a".repeat(n));
                self.cmd(&mail);
                self.model.unsure = true;
            }
            5 => self.steps.push(Step::raw(b"NO\0OP\r\n", 1)),
            6 => self.steps.push(Step::raw(b"NOOP \0\r\n", 1)),
            7 => self.steps.push(Step::raw(b"\r\n", 1)),
            _ => self.steps.push(Step::raw(b"HELO\x00x\r\n", 1)),
        }
    }

    /// BDAT chunks (RFC 3030), valid and not.
    fn bdat(&mut self) {
        let form = self.rng.random_range(0..6);
        let chunk: &[u8] = b"Subject: chunk\r\n\r\nchunked body\r\n";
        match form {
            0 => {
                self.steps.push(Step::raw(
                    format!("BDAT {} LAST\r\n", chunk.len()).as_bytes(),
                    0,
                ));
                self.steps.push(Step::raw(chunk, 1));
            }
            1 => {
                self.steps
                    .push(Step::raw(format!("BDAT {}\r\n", chunk.len()).as_bytes(), 0));
                self.steps.push(Step::raw(chunk, 1));
                self.cmd("BDAT 0 LAST");
            }
            2 => {
                let line = self.pick(&[
                    "BDAT",
                    "BDAT x",
                    "BDAT -1",
                    "BDAT 10 NOTLAST",
                    "BDAT 0",
                    "BDAT 1 LAST extra",
                ]);
                self.cmd(line);
            }
            3 => self.cmd("BDAT 0 LAST"),
            4 => {
                // A chunk that holds something that looks like a command and a dot.
                self.steps.push(Step::raw(b"BDAT 12\r\n", 0));
                self.steps.push(Step::raw(b"QUIT\r\n.\r\nab", 1));
                self.cmd("BDAT 2 LAST");
            }
            _ => {
                // BDAT, then DATA in the same transaction.
                self.steps.push(Step::raw(b"BDAT 5\r\n", 0));
                self.steps.push(Step::raw(b"hello", 1));
                self.cmd("DATA");
            }
        }
        self.model = Model {
            size_refused: self.model.size_refused,
            ..Model::default()
        };
        self.model.unsure = true;
    }

    /// Many junk commands pipelined: up to and past the junk command limit.
    fn flood(&mut self) {
        let n = self.rng.random_range(5..=125);
        let verb = self.pick(&[
            "NOOP",
            "RSET",
            "VRFY bob",
            "HELO x.example",
            "ETRN example.org",
            "FOO",
        ]);
        for i in 0..n {
            if i + 1 == n {
                self.cmd(verb);
            } else {
                self.steps.push(Step::pipelined(verb));
            }
        }
    }

    /// Lines Postfix hangs up on.
    fn rules_breaker(&mut self) -> String {
        self.pick(&[
            "Subject: hello",
            "X-Foo: bar",
            "CONNECT example.org:25 HTTP/1.0",
            "GET / HTTP/1.0",
            "POST /x HTTP/1.1",
            ".",
            "123 go",
            "!bang",
            "From: bob@example.org",
        ])
        .into()
    }
}
