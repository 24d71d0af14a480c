//! How Postfix's smtpd reads MAIL, RCPT and VRFY arguments (3.7, default settings): its
//! command tokenizer (`smtpd_token.c`), address extraction (`extract_addr`), address
//! resolution (trivial-rewrite's `resolve.c`: local domains stripped, `%` and `!` routing,
//! quoted local parts cracked open) and the ESMTP parameters it accepts.

/// One argument word as Postfix's tokenizer cuts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The text, quotes and brackets kept.
    pub text: String,
    /// A `<` or `"` was never closed.
    pub unclosed: bool,
}

/// Cuts a command's arguments into words: white space separates them, except inside `<...>`
/// and `"..."`; `FROM:` and `TO:` end a word of their own.
pub fn tokens(args: &str) -> Vec<Token> {
    let chars: Vec<char> = args.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let mut text = String::new();
        let mut unclosed = false;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            if c.is_ascii_whitespace() || c == '\x0b' {
                while i < chars.len() && (chars[i].is_ascii_whitespace() || chars[i] == '\x0b') {
                    i += 1;
                }
                if !text.is_empty() {
                    break;
                }
            } else if c == '<' || c == '"' {
                unclosed |= !quoted(&chars, &mut i, &mut text, c);
            } else if c == ':' {
                text.push(c);
                if text.eq_ignore_ascii_case("to:") || text.eq_ignore_ascii_case("from:") {
                    break;
                }
            } else {
                text.push(c);
                if c == '\\' && i < chars.len() {
                    text.push(chars[i]);
                    i += 1;
                }
            }
        }
        if text.is_empty() {
            return out;
        }
        out.push(Token { text, unclosed });
    }
}

/// `<...>` or `"..."` (nested quotes inside brackets); false if it never closes.
fn quoted(chars: &[char], i: &mut usize, text: &mut String, start: char) -> bool {
    let mut stack = vec![if start == '<' { '>' } else { '"' }];
    text.push(start);
    while *i < chars.len() {
        let c = chars[*i];
        *i += 1;
        text.push(c);
        let wanted = *stack.last().expect("non-empty");
        if c == '\\' {
            if *i < chars.len() {
                text.push(chars[*i]);
                *i += 1;
                continue;
            }
            break;
        } else if c == wanted {
            stack.pop();
            if stack.is_empty() {
                return true;
            }
        } else if c == '"' {
            stack.push('"');
        } else if c == '<' && wanted == '>' {
            stack.push('>');
        }
    }
    false
}

/// The address in a MAIL/RCPT/VRFY word, in internal (unquoted) form; Err if the word holds
/// more than one address. Brackets, a source route, comments and phrases are dropped.
pub fn extract(word: &str) -> Result<String, ()> {
    let mut text = word;
    if text.len() >= 2 && text.starts_with('<') && text.ends_with('>') {
        text = &text[1..text.len() - 1];
    }
    if text.starts_with('@') {
        if let Some(colon) = text.find(':') {
            text = &text[colon + 1..];
        }
    }
    // Split into addresses at commas (and semicolons) outside quotes, comments and brackets.
    let mut groups: Vec<String> = vec![String::new()];
    let (mut in_quote, mut comment, mut angle) = (false, 0u32, 0u32);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let group = groups.last_mut().expect("non-empty");
        match c {
            '\\' => {
                group.push(c);
                if let Some(n) = chars.next() {
                    group.push(n);
                }
            }
            '"' if comment == 0 => {
                in_quote = !in_quote;
                group.push(c);
            }
            '(' if !in_quote => comment += 1,
            ')' if !in_quote && comment > 0 => comment -= 1,
            _ if comment > 0 => {}
            '<' if !in_quote => {
                angle += 1;
                group.push(c);
            }
            '>' if !in_quote => {
                angle = angle.saturating_sub(1);
                group.push(c);
            }
            // `;` ends an RFC 822 group: what follows is another address.
            ',' | ';' if !in_quote && angle == 0 => groups.push(String::new()),
            _ => group.push(c),
        }
    }
    let groups: Vec<&String> = groups.iter().filter(|g| !g.trim().is_empty()).collect();
    match groups.as_slice() {
        [] => Ok(String::new()),
        [one] if !one.contains('<') && adjacent_words(one) => Err(()),
        [one] => {
            // A route address inside a phrase: the part in the last brackets.
            let spec = match (one.rfind('<'), one.rfind('>')) {
                (Some(open), Some(close)) if open < close => &one[open + 1..close],
                _ => one.as_str(),
            };
            let spec = match spec.trim_start().strip_prefix('@') {
                Some(route) => route.split_once(':').map_or(spec, |(_, a)| a),
                None => spec,
            };
            Ok(internalize(spec))
        }
        _ => Err(()),
    }
}

/// True if two words (atoms, quoted strings, domain literals) follow each other with no
/// operator between them: Postfix's RFC 822 parser reads `bob smith@example.org` and
/// `"bob"smith@example.org` as two addresses, where `bob @example.org`, `bob. smith` and
/// `"b"."c"` are one (an operator joins the words).
fn adjacent_words(spec: &str) -> bool {
    let mut chars = spec.chars();
    let (mut word_before, mut in_atom) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => in_atom = false,
            '"' | '[' => {
                if word_before {
                    return true;
                }
                let close = if c == '"' { '"' } else { ']' };
                while let Some(n) = chars.next() {
                    if n == '\\' {
                        chars.next();
                    } else if n == close {
                        break;
                    }
                }
                (word_before, in_atom) = (true, false);
            }
            '@' | '.' | ':' | ',' | ';' | '<' | '>' | ']' | '(' | ')' => {
                (word_before, in_atom) = (false, false);
            }
            _ => {
                if c == '\\' {
                    chars.next();
                }
                if !in_atom && word_before {
                    return true;
                }
                (word_before, in_atom) = (true, true);
            }
        }
    }
    false
}

/// Unquotes quoted strings and drops white space outside them.
fn internalize(spec: &str) -> String {
    let mut out = String::new();
    let mut in_quote = false;
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quote = !in_quote,
            '\\' if in_quote => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            c if c.is_whitespace() && !in_quote => {}
            // Stray brackets are tokens of their own that Postfix ignores.
            '<' | '>' if !in_quote => {}
            c => out.push(c),
        }
    }
    out
}

/// Where trivial-rewrite sends an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The final address, `local@domain`.
    pub address: String,
    /// Its local part (lower-cased for table look-ups).
    pub local: String,
    /// Its domain.
    pub domain: String,
    /// The domain is not a valid host name or address literal.
    pub error: bool,
    /// Routing operators are left in the local part (`%`, `!`, `@`).
    pub routed: bool,
}

/// Resolves an internal-form address as trivial-rewrite does with Postfix's defaults
/// (`allow_percent_hack`, `swap_bangpath`, `resolve_dequoted_address`, empty local part =
/// MAILER-DAEMON); `is_local` says whether a domain is delivered here.
pub fn resolve(address: &str, is_local: &dyn Fn(&str) -> bool, myhostname: &str) -> Resolved {
    let mut current = address.to_string();
    let mut saved_domain: Option<String> = None;
    for _ in 0..64 {
        let (local, domain) = match current.rsplit_once('@') {
            Some((l, d)) => (l.to_string(), Some(strip_dot(d))),
            None => (current.clone(), None),
        };
        if let Some(d) = domain {
            // An empty domain is stripped like a local one (and fails the host name check).
            if !d.is_empty() && !is_local(&d) {
                current = format!("{local}@{d}");
                break;
            }
            saved_domain = Some(d);
        }
        if local.contains('@') {
            current = local;
            continue;
        }
        if let Some(p) = local.rfind('%') {
            current = format!("{}@{}", &local[..p], &local[p + 1..]);
            continue;
        }
        if let Some((site, user)) = local.split_once('!') {
            current = format!("{user}@{site}");
            continue;
        }
        if local.is_empty() {
            current = "MAILER-DAEMON".into();
            continue;
        }
        let domain = saved_domain
            .clone()
            .unwrap_or_else(|| myhostname.to_string());
        current = format!("{local}@{domain}");
        break;
    }
    let (local, domain) = current
        .rsplit_once('@')
        .map(|(l, d)| (l.to_string(), d.to_string()))
        .unwrap_or((current.clone(), myhostname.to_string()));
    let error = if domain.starts_with('[') {
        !valid_literal(&domain)
    } else {
        !valid_hostname(&domain)
    };
    let first_operator = current.find(['@', '!', '%']).unwrap_or(current.len());
    let routed = current.get(first_operator + 1..) != Some(domain.as_str());
    Resolved {
        address: current.clone(),
        local: local.to_lowercase(),
        domain,
        error,
        routed,
    }
}

/// `example.org.` is `example.org` (but `example.org..` stays as it is).
fn strip_dot(domain: &str) -> String {
    match domain.strip_suffix('.') {
        Some(d) if !d.ends_with('.') => d.to_string(),
        _ => domain.to_string(),
    }
}

/// Postfix's `valid_hostname` (letters, digits, `-`, `_`, labels of at most 63, not all
/// numeric), with non-ASCII labels taken as letters (SMTPUTF8 is enabled).
pub fn valid_hostname(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut numeric = true;
    for label in name.split('.') {
        if label.is_empty() || label.chars().count() > 63 {
            return false;
        }
        if label.starts_with('-') || label.ends_with('-') {
            return false;
        }
        for c in label.chars() {
            if !(c.is_alphanumeric() || c == '-' || c == '_') {
                return false;
            }
            numeric &= c.is_ascii_digit();
        }
    }
    !numeric
}

/// `[1.2.3.4]` or `[IPv6:...]`.
pub fn valid_literal(literal: &str) -> bool {
    let Some(inner) = literal.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
        return false;
    };
    match inner.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// Postfix's `smtpd_check_addr`: false if the address cannot be resolved, or has a non-ASCII
/// domain without SMTPUTF8.
pub fn check_addr(
    address: &str,
    smtputf8: bool,
    is_local: &dyn Fn(&str) -> bool,
    myhostname: &str,
) -> bool {
    if address.is_empty() {
        return true;
    }
    // An empty local part before an IPv6 literal reads as a source route (`@[IPv6:` ...).
    if address.starts_with('@') && address.contains(':') {
        return false;
    }
    let r = resolve(address, is_local, myhostname);
    !r.error && (smtputf8 || r.domain.is_ascii())
}

/// The local part without its extension: cut at the first of the `delimiters` that is not
/// its first character (Postfix's `split_addr`; with `-`, `owner-*` and `*-request` are
/// left whole). None if there is nothing to cut.
pub fn strip_extension<'a>(local: &'a str, delimiters: &str) -> Option<&'a str> {
    if delimiters.is_empty() {
        return None;
    }
    if delimiters.contains('-') && (local.starts_with("owner-") || local.ends_with("-request")) {
        return None;
    }
    let i = local
        .char_indices()
        .skip(1)
        .find(|(_, c)| delimiters.contains(*c))?
        .0;
    Some(&local[..i])
}

/// RFC 3461 xtext: printable ASCII but `+` and `=`, and `+HH` for the rest.
fn xtext_ok(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = b.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
            }
            0x21..=0x7e if b[i] != b'=' => i += 1,
            _ => return false,
        }
    }
    true
}

/// Reads MAIL parameters in order, as Postfix does; `size` is updated as they are read
/// (Postfix keeps a declared size even when a later parameter is refused). Err: the reply.
pub fn mail_params(words: &[Token], size: &mut Option<u64>) -> Result<(), String> {
    let (mut ret, mut envid, mut auth) = (false, false, false);
    for word in words {
        let arg = word.text.as_str();
        let upper = arg.to_ascii_uppercase();
        let value = |n: usize| &arg[n..];
        if upper == "BODY=8BITMIME" || upper == "BODY=7BIT" || upper == "SMTPUTF8" {
        } else if upper.starts_with("SIZE=") {
            let v = value(5);
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err("501 5.5.4 Bad message size syntax".into());
            }
            match v.parse::<i64>() {
                Ok(n) => *size = Some(n as u64),
                Err(_) => {
                    // Postfix keeps -1, which no later size check refuses.
                    *size = None;
                    return Err("552 5.3.4 Message size exceeds file system imposed limit".into());
                }
            }
        } else if upper.starts_with("AUTH=") {
            // After an AUTH= with an address, any other is refused (`<>` included, as
            // Postfix 3.7.11 answered `AUTH=bob@example.org AUTH=<>`); `<>` alone sets none.
            if auth {
                return Err("503 5.5.4 Error: multiple AUTH= options".into());
            }
            auth = value(5) != "<>";
        } else if upper.starts_with("RET=") {
            let v = value(4).to_ascii_uppercase();
            if ret || (v != "FULL" && v != "HDRS") {
                return Err("501 5.5.4 Bad RET parameter syntax".into());
            }
            ret = true;
        } else if upper.starts_with("ENVID=") {
            let v = value(6);
            if envid || v.is_empty() || !xtext_ok(v) {
                return Err("501 5.5.4 Bad ENVID parameter syntax".into());
            }
            envid = true;
        } else {
            return Err(format!("555 5.5.4 Unsupported option: {arg}"));
        }
    }
    Ok(())
}

/// Reads RCPT parameters in order. Err: the reply.
pub fn rcpt_params(words: &[Token]) -> Result<(), String> {
    rcpt_params_warning(words, &mut None)
}

/// As [`rcpt_params`]; `warning` gets the (value, list) of Postfix's `unknown DSN NOTIFY
/// command value` warning when the first NOTIFY lists a value it does not know.
pub fn rcpt_params_warning(
    words: &[Token],
    warning: &mut Option<(String, String)>,
) -> Result<(), String> {
    let (mut notify, mut orcpt) = (false, false);
    for word in words {
        let arg = word.text.as_str();
        let upper = arg.to_ascii_uppercase();
        if let Some(v) = upper.strip_prefix("NOTIFY=") {
            let items: Vec<&str> = v.split(',').collect();
            let known = items
                .iter()
                .all(|i| matches!(*i, "NEVER" | "SUCCESS" | "FAILURE" | "DELAY"));
            if !notify && !known {
                let list = &arg[7..];
                let value = list
                    .split(',')
                    .find(|i| {
                        !i.is_empty()
                            && !["NEVER", "SUCCESS", "FAILURE", "DELAY"]
                                .iter()
                                .any(|k| k.eq_ignore_ascii_case(i))
                    })
                    .unwrap_or("");
                if !value.is_empty() {
                    *warning = Some((value.to_string(), list.to_string()));
                }
            }
            let never_alone = !items.contains(&"NEVER") || items.len() == 1;
            if notify || v.is_empty() || !known || !never_alone {
                return Err("501 5.5.4 Error: Bad NOTIFY parameter syntax".into());
            }
            notify = true;
        } else if upper.starts_with("ORCPT=") {
            let v = &arg[6..];
            let ok = match v.split_once(';') {
                Some((kind, addr)) if !kind.is_empty() => {
                    kind.eq_ignore_ascii_case("utf-8") || xtext_ok(addr)
                }
                _ => false,
            };
            if orcpt || !ok {
                return Err("501 5.5.4 Error: Bad ORCPT parameter syntax".into());
            }
            orcpt = true;
        } else {
            return Err(format!("555 5.5.4 Unsupported option: {arg}"));
        }
    }
    Ok(())
}

/// The external form of an internal address: the local part quoted when it needs quotes
/// (Postfix's `quote_822_local`), as its logs show it.
pub fn quote_local(address: &str) -> String {
    let (local, domain) = match address.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (address, None),
    };
    let special = |c: char| " \t\"\\(),:;<>@[]".contains(c) || c.is_ascii_control();
    let dots = local.starts_with('.') || local.ends_with('.') || local.contains("..");
    let local = if local.chars().any(special) || (dots && !local.is_empty()) {
        format!("\"{}\"", local.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        local.to_string()
    };
    match domain {
        Some(d) => format!("{local}@{d}"),
        None => local,
    }
}
