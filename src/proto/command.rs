//! SMTP commands: the verb set of RFC 5321 plus unknown verbs, parsing of a command line,
//! MAIL/RCPT path parsing with ESMTP parameters kept, and the wire form.

use std::fmt;

/// A command verb. Unknown verbs are kept as typed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// HELO
    Helo,
    /// EHLO
    Ehlo,
    /// MAIL
    Mail,
    /// RCPT
    Rcpt,
    /// DATA
    Data,
    /// RSET
    Rset,
    /// NOOP
    Noop,
    /// QUIT
    Quit,
    /// VRFY
    Vrfy,
    /// EXPN
    Expn,
    /// HELP
    Help,
    /// ETRN (RFC 1985)
    Etrn,
    /// STARTTLS (RFC 3207)
    StartTls,
    /// AUTH (RFC 4954)
    Auth,
    /// BDAT (RFC 3030)
    Bdat,
    /// Anything else, upper-cased.
    Other(String),
}

impl Verb {
    /// Recognises a verb case-insensitively.
    pub fn parse(word: &str) -> Verb {
        match word.to_ascii_uppercase().as_str() {
            "HELO" => Verb::Helo,
            "EHLO" => Verb::Ehlo,
            "MAIL" => Verb::Mail,
            "RCPT" => Verb::Rcpt,
            "DATA" => Verb::Data,
            "RSET" => Verb::Rset,
            "NOOP" => Verb::Noop,
            "QUIT" => Verb::Quit,
            "VRFY" => Verb::Vrfy,
            "EXPN" => Verb::Expn,
            "HELP" => Verb::Help,
            "ETRN" => Verb::Etrn,
            "STARTTLS" => Verb::StartTls,
            "AUTH" => Verb::Auth,
            "BDAT" => Verb::Bdat,
            other => Verb::Other(other.to_string()),
        }
    }

    /// The canonical upper-case name.
    pub fn name(&self) -> &str {
        match self {
            Verb::Helo => "HELO",
            Verb::Ehlo => "EHLO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::Etrn => "ETRN",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH",
            Verb::Bdat => "BDAT",
            Verb::Other(s) => s,
        }
    }

    /// One of the seven commands of RFC 821's minimum implementation (what PIX Mailguard lets through).
    pub fn is_rfc821_minimum(&self) -> bool {
        matches!(
            self,
            Verb::Helo
                | Verb::Mail
                | Verb::Rcpt
                | Verb::Data
                | Verb::Rset
                | Verb::Noop
                | Verb::Quit
        )
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed command line: the verb and the raw argument text after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The verb.
    pub verb: Verb,
    /// Everything after the verb and the whitespace that follows it (may be empty).
    pub args: String,
}

impl Command {
    /// A command with arguments (empty string for none).
    pub fn new(verb: Verb, args: impl Into<String>) -> Command {
        Command {
            verb,
            args: args.into(),
        }
    }

    /// `HELO name`, or a bare `HELO` for `None`.
    pub fn helo(name: Option<&str>) -> Command {
        Command::new(Verb::Helo, name.unwrap_or(""))
    }

    /// `EHLO name`.
    pub fn ehlo(name: &str) -> Command {
        Command::new(Verb::Ehlo, name)
    }

    /// `MAIL FROM:<addr>` with optional ESMTP parameters.
    pub fn mail(from: &str, params: &[&str]) -> Command {
        Command::new(Verb::Mail, with_params(format!("FROM:<{from}>"), params))
    }

    /// `RCPT TO:<addr>`.
    pub fn rcpt(to: &str) -> Command {
        Command::rcpt_with(to, &[])
    }

    /// `RCPT TO:<addr> PARAM...`.
    pub fn rcpt_with(to: &str, params: &[String]) -> Command {
        Command::new(Verb::Rcpt, with_params(format!("TO:<{to}>"), params))
    }

    /// A command with no arguments.
    pub fn bare(verb: Verb) -> Command {
        Command::new(verb, "")
    }

    /// `BDAT size`, or `BDAT size LAST` for the last chunk (RFC 3030).
    pub fn bdat_chunk(size: u64, last: bool) -> Command {
        let args = if last {
            format!("{size} LAST")
        } else {
            size.to_string()
        };
        Command::new(Verb::Bdat, args)
    }

    /// For `BDAT count [LAST]` as Postfix's `bdat_cmd` reads it: the chunk's size and whether
    /// it is the last. `None` for any other verb and for a malformed BDAT (answered with 521
    /// and a hang-up, so no chunk follows it).
    pub fn bdat(&self) -> Option<(u64, bool)> {
        if self.verb != Verb::Bdat {
            return None;
        }
        let words: Vec<&str> = self.args.split(BLANKS).filter(|w| !w.is_empty()).collect();
        let size = words
            .first()
            .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))?
            .parse::<i64>()
            .ok()?;
        match words[1..] {
            [] => Some((size as u64, false)),
            [last] if last.eq_ignore_ascii_case("LAST") => Some((size as u64, true)),
            _ => None,
        }
    }

    /// Parses one command line (terminator already removed). Leading spaces are skipped
    /// (Postfix tolerates them). Returns `None` for an empty or whitespace-only line.
    /// White space is what C's `isspace()` says, as in Postfix's command tokenizer: a bare CR
    /// separates words (`NOOP\rQUIT` is a NOOP with argument `QUIT`).
    pub fn parse(line: &[u8]) -> Option<Command> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_start_matches(BLANKS);
        if text.trim().is_empty() {
            return None;
        }
        let (word, rest) = match text.find(BLANKS) {
            Some(i) => (&text[..i], text[i..].trim_start_matches(BLANKS)),
            None => (text, ""),
        };
        Some(Command {
            verb: Verb::parse(word),
            args: rest.trim_end_matches(BLANKS).to_string(),
        })
    }

    /// The word as typed for unknown verbs, the canonical name otherwise.
    pub fn name(&self) -> &str {
        self.verb.name()
    }

    /// The wire form: `VERB args\r\n`.
    pub fn to_wire(&self) -> Vec<u8> {
        format!("{self}\r\n").into_bytes()
    }

    /// For MAIL and RCPT: the reverse- or forward-path and parameters.
    pub fn path(&self) -> Result<Path, PathError> {
        let keyword = match self.verb {
            Verb::Mail => "FROM:",
            Verb::Rcpt => "TO:",
            _ => return Err(PathError::Syntax),
        };
        Path::parse(&self.args, keyword)
    }
}

/// C `isspace()` in the C locale: the separators of Postfix's `smtpd_token()`.
const BLANKS: [char; 6] = [' ', '\t', '\r', '\n', '\x0b', '\x0c'];

fn with_params(mut base: String, params: &[impl AsRef<str>]) -> String {
    for p in params {
        base.push(' ');
        base.push_str(p.as_ref());
    }
    base
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.args.is_empty() {
            f.write_str(self.verb.name())
        } else {
            write!(f, "{} {}", self.verb.name(), self.args)
        }
    }
}

/// The address and ESMTP parameters of a MAIL or RCPT command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The address without angle brackets (empty for the null reverse-path `<>`).
    pub address: String,
    /// `KEY` or `KEY=value` parameters, in order.
    pub params: Vec<(String, Option<String>)>,
}

/// Why a MAIL or RCPT argument could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The `FROM:` / `TO:` keyword is missing, or nothing follows it.
    Syntax,
    /// The address is malformed (unbalanced brackets, spaces, bad characters).
    BadAddress,
}

impl Path {
    /// Parses `FROM:<addr> PARAMS` leniently, as Postfix does without
    /// `strict_rfc821_envelopes`: spaces after the colon and a missing `<>` are accepted.
    pub fn parse(args: &str, keyword: &str) -> Result<Path, PathError> {
        // Compare bytes: `args` may have a multi-byte character where the keyword ends.
        match args.as_bytes().get(..keyword.len()) {
            Some(head) if head.eq_ignore_ascii_case(keyword.as_bytes()) => {}
            _ => return Err(PathError::Syntax),
        }
        let rest = args[keyword.len()..].trim_start();
        if rest.is_empty() {
            // Postfix: `MAIL FROM:` with nothing after it is a syntax error, not `<>`.
            return Err(PathError::Syntax);
        }
        let (address, params_text) = if let Some(inner) = rest.strip_prefix('<') {
            let close = inner.find('>').ok_or(PathError::BadAddress)?;
            (&inner[..close], &inner[close + 1..])
        } else {
            match rest.find(' ') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            }
        };
        if address.contains(['<', '>', ' ', '\t']) || address.bytes().any(|b| b.is_ascii_control())
        {
            return Err(PathError::BadAddress);
        }
        if !params_text.is_empty() && !params_text.starts_with(' ') {
            return Err(PathError::BadAddress);
        }
        let params = params_text
            .split_whitespace()
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_ascii_uppercase(), Some(v.to_string())),
                None => (p.to_ascii_uppercase(), None),
            })
            .collect();
        Ok(Path {
            address: address.to_string(),
            params,
        })
    }

    /// The value of a parameter such as `SIZE`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.as_deref())
    }

    /// The domain part, lower-cased (empty if there is no `@`).
    pub fn domain(&self) -> String {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default()
    }
}
