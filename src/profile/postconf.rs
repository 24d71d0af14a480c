//! A Postfix `main.cf` (or `postconf -n` output) read as Postfix reads it: logical lines with
//! continuations, comments, `name = value`, and `$name` / `${name}` / `$(name)` /
//! `${name?text}` / `${name:text}` expansion against the file and the defaults Postfix 3.7
//! derives (`myhostname` from the machine, `mydomain`, `myorigin`, `mydestination`, ...).
//! Pure: the caller reads the file and says what the machine's host name is.

use std::collections::BTreeMap;

/// A parsed `main.cf`: each parameter's raw value and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainCf {
    file: String,
    params: BTreeMap<String, (String, usize)>,
    defaults: BTreeMap<&'static str, String>,
}

/// Built-in defaults of Postfix 3.7 that do not depend on the machine (the ones the server
/// profile reads, and the ones main.cf files commonly expand).
const DEFAULTS: &[(&str, &str)] = &[
    ("mail_name", "Postfix"),
    ("mail_version", "3.7.11"),
    ("config_directory", "/etc/postfix"),
    ("queue_directory", "/var/spool/postfix"),
    ("data_directory", "/var/lib/postfix"),
    ("daemon_directory", "/usr/lib/postfix/sbin"),
    ("command_directory", "/usr/sbin"),
    ("mail_owner", "postfix"),
    ("myorigin", "$myhostname"),
    (
        "mydestination",
        "$myhostname, localhost.$mydomain, localhost",
    ),
    ("relay_domains", ""),
    ("inet_interfaces", "all"),
    ("inet_protocols", "all"),
    ("recipient_delimiter", ""),
    ("smtpd_banner", "$myhostname ESMTP $mail_name"),
    ("message_size_limit", "10240000"),
    ("smtpd_recipient_limit", "1000"),
    ("smtpd_helo_required", "no"),
    ("smtpd_helo_restrictions", ""),
    ("smtpd_sender_restrictions", ""),
    ("smtpd_client_restrictions", ""),
    ("smtpd_recipient_restrictions", ""),
    (
        "smtpd_relay_restrictions",
        "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
    ),
    ("smtpd_junk_command_limit", "100"),
    ("smtpd_soft_error_limit", "10"),
    ("smtpd_hard_error_limit", "20"),
    ("smtpd_error_sleep_time", "1s"),
    ("smtpd_timeout", "300s"),
    ("disable_vrfy_command", "no"),
    ("smtpd_discard_ehlo_keywords", ""),
    ("smtputf8_enable", "yes"),
    ("smtpd_tls_security_level", ""),
    ("smtpd_tls_cert_file", ""),
    ("smtpd_tls_key_file", "$smtpd_tls_cert_file"),
    ("smtpd_delay_reject", "yes"),
    ("smtpd_reject_unlisted_recipient", "yes"),
    ("smtpd_reject_unlisted_sender", "no"),
];

/// The longest chain of `$name` inside `$name` followed before it counts as a loop.
const MAX_DEPTH: usize = 32;

impl MainCf {
    /// Reads `text` (the contents of `file`, named in errors). `hostname` is the machine's
    /// name, the default of `myhostname`.
    pub fn parse(file: &str, text: &str, hostname: &str) -> Result<MainCf, String> {
        let mut params = BTreeMap::new();
        let mut current: Option<(String, String, usize)> = None;
        let mut finish = |entry: Option<(String, String, usize)>| -> Result<(), String> {
            if let Some((name, value, line)) = entry {
                params.insert(name, (value.trim().to_string(), line));
            }
            Ok(())
        };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                match current.as_mut() {
                    Some((_, value, _)) => {
                        value.push(' ');
                        value.push_str(trimmed);
                    }
                    None => {
                        return Err(format!(
                            "{file}:{line}: a continuation line with nothing to continue"
                        ))
                    }
                }
                continue;
            }
            let Some((name, value)) = raw.split_once('=') else {
                return Err(format!(
                    "{file}:{line}: expected name = value, got {trimmed:?}"
                ));
            };
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("{file}:{line}: bad parameter name {name:?}"));
            }
            finish(current.take())?;
            current = Some((name.to_string(), value.trim().to_string(), line));
        }
        finish(current.take())?;
        let mut defaults: BTreeMap<&'static str, String> =
            DEFAULTS.iter().map(|(k, v)| (*k, v.to_string())).collect();
        defaults.insert("myhostname", hostname.to_string());
        // mydomain: myhostname without its first label ("localdomain" when it has one label).
        defaults.insert("mydomain", "${myhostname_domain}".to_string());
        let cf = MainCf {
            file: file.to_string(),
            params,
            defaults,
        };
        // Every value must expand: a loop or an undefined name is an error at its line.
        for name in cf.params.keys() {
            cf.get(name)?;
        }
        Ok(cf)
    }

    /// The file name given to [`parse`](Self::parse).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Parameters set in the file, in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    /// The line a parameter is set on (0: a default).
    pub fn line(&self, name: &str) -> usize {
        self.params.get(name).map_or(0, |(_, l)| *l)
    }

    /// True if the file sets `name`.
    pub fn is_set(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// `name`'s value, expanded; Err for an undefined or looping reference.
    pub fn get(&self, name: &str) -> Result<String, String> {
        self.value(name, 0)
            .map_err(|e| format!("{}:{}: {name}: {e}", self.file, self.line(name)))
    }

    /// `name`'s value as a Postfix list: words separated by white space and/or commas.
    pub fn list(&self, name: &str) -> Result<Vec<String>, String> {
        Ok(split_list(&self.get(name)?))
    }

    /// A `name = yes|no` value.
    pub fn bool(&self, name: &str) -> Result<bool, String> {
        match self.get(name)?.to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(true),
            "no" | "false" => Ok(false),
            other => Err(self.bad(name, other, "yes or no")),
        }
    }

    /// A non-negative integer.
    pub fn int(&self, name: &str) -> Result<u64, String> {
        let value = self.get(name)?;
        value
            .parse()
            .map_err(|_| self.bad(name, &value, "a non-negative integer"))
    }

    /// A time: a number with an optional unit `s`, `m`, `h`, `d`, `w` (default seconds).
    pub fn seconds(&self, name: &str) -> Result<u64, String> {
        let value = self.get(name)?;
        let (number, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => value.split_at(i),
            None => (value.as_str(), "s"),
        };
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            "w" => 604800,
            _ => 0,
        };
        match number.parse::<u64>() {
            Ok(n) if scale > 0 => Ok(n * scale),
            _ => Err(self.bad(name, &value, "a time such as 300s, 5m or 1h")),
        }
    }

    fn bad(&self, name: &str, value: &str, wanted: &str) -> String {
        format!(
            "{}:{}: {name} = {value}: expected {wanted}",
            self.file,
            self.line(name)
        )
    }

    fn raw(&self, name: &str) -> Option<String> {
        if let Some((value, _)) = self.params.get(name) {
            return Some(value.clone());
        }
        if name == "myhostname_domain" {
            let host = self.value("myhostname", 1).ok()?;
            return Some(match host.split_once('.') {
                Some((_, domain)) if !domain.is_empty() => domain.to_string(),
                _ => "localdomain".to_string(),
            });
        }
        self.defaults.get(name).cloned()
    }

    fn value(&self, name: &str, depth: usize) -> Result<String, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "${name} refers to itself (a loop of $name references)"
            ));
        }
        let raw = self
            .raw(name)
            .ok_or_else(|| format!("undefined parameter ${name}"))?;
        self.expand(&raw, depth)
    }

    /// Expands the `$` references of `text`.
    fn expand(&self, text: &str, depth: usize) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            let (name, op, consumed) =
                if let Some(close) = rest.strip_prefix(['{', '(']).and_then(|_| closing(rest)) {
                    let inner = &rest[1..close];
                    match inner.find(['?', ':']) {
                        Some(j) => (
                            &inner[..j],
                            Some((&inner[j..j + 1], &inner[j + 1..])),
                            close + 1,
                        ),
                        None => (inner, None, close + 1),
                    }
                } else if rest.starts_with('$') {
                    out.push('$');
                    rest = &rest[1..];
                    continue;
                } else {
                    let end = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    if end == 0 {
                        return Err(format!(
                            "a '$' not followed by a parameter name in {text:?}"
                        ));
                    }
                    (&rest[..end], None, end)
                };
            rest = &rest[consumed..];
            match op {
                None => out.push_str(&self.value(name, depth + 1)?),
                Some((op, alternative)) => {
                    let set = self
                        .raw(name)
                        .map(|_| self.value(name, depth + 1))
                        .transpose()?
                        .is_some_and(|v| !v.is_empty());
                    // ${name?text}: text when name is non-empty; ${name:text}: when empty.
                    let alternative = alternative
                        .strip_prefix('{')
                        .and_then(|a| a.strip_suffix('}'))
                        .unwrap_or(alternative);
                    if (op == "?") == set {
                        out.push_str(&self.expand(alternative, depth + 1)?);
                    }
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The index in `text` (which starts with `{` or `(`) of the bracket closing it.
fn closing(text: &str) -> Option<usize> {
    let (open, close) = if text.starts_with('{') {
        ('{', '}')
    } else {
        ('(', ')')
    };
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// A Postfix list: words separated by white space and/or commas.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}
