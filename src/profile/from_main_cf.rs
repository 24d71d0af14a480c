//! The postfix server profile configured from a [`MainCf`] (`serve --postconf`, `[server]
//! postconf`, `diff --postconf`): which parameters are modelled, which have no bearing on
//! smtpd's dialogue, and which are neither (listed by name, an error under `--strict`).

use super::postconf::MainCf;
use crate::proto::dur::Dur;
use crate::proto::server::{restrictions, ServerConfig};
use std::path::{Path, PathBuf};

/// Parameters that configure the profile.
pub const MODELLED: &[&str] = &[
    "myhostname",
    "mydomain",
    "myorigin",
    "mydestination",
    "relay_domains",
    "mynetworks",
    "inet_interfaces",
    "inet_protocols",
    "recipient_delimiter",
    "smtpd_banner",
    "message_size_limit",
    "smtpd_recipient_limit",
    "smtpd_helo_required",
    "smtpd_helo_restrictions",
    "smtpd_sender_restrictions",
    "smtpd_recipient_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_junk_command_limit",
    "smtpd_soft_error_limit",
    "smtpd_hard_error_limit",
    "smtpd_error_sleep_time",
    "smtpd_timeout",
    "disable_vrfy_command",
    "smtpd_discard_ehlo_keywords",
    "smtputf8_enable",
    "smtpd_tls_security_level",
    "smtpd_tls_cert_file",
    "smtpd_tls_key_file",
    "mail_name",
];

/// Parameters with no bearing on what smtpd answers: delivery, paths, logging (and every
/// `smtp_*` / `lmtp_*` one: the SMTP client). `alias_maps` and `local_recipient_maps` name users, which come from `mailboxes`.
pub const NO_EFFECT: &[&str] = &[
    "biff",
    "append_dot_mydomain",
    "readme_directory",
    "compatibility_level",
    "alias_maps",
    "alias_database",
    "local_recipient_maps",
    "mailbox_size_limit",
    "mailbox_command",
    "home_mailbox",
    "relayhost",
    "default_transport",
    "relay_transport",
    "local_transport",
    "delay_warning_time",
    "config_directory",
    "queue_directory",
    "data_directory",
    "daemon_directory",
    "command_directory",
    "meta_directory",
    "shlib_directory",
    "html_directory",
    "manpage_directory",
    "sample_directory",
    "sendmail_path",
    "newaliases_path",
    "mailq_path",
    "setgid_group",
    "mail_owner",
    "syslog_name",
    "maillog_file",
    "maillog_file_prefixes",
    "debug_peer_level",
    "debugger_command",
    "smtpd_tls_session_cache_database",
    "smtpd_tls_loglevel",
];

/// How the server's STARTTLS is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Not offered (`smtpd_tls_security_level` empty or `none`, or no certificate).
    Off,
    /// Offered with these PEM files (certificate chain, key).
    Files(PathBuf, PathBuf),
}

/// The profile a `main.cf` configures, and what of it was not modelled.
#[derive(Debug, Clone)]
pub struct FromMainCf {
    /// The postfix profile so configured (`mailboxes` as the base had them).
    pub server: ServerConfig,
    /// STARTTLS.
    pub tls: Tls,
    /// Parameters (or parameter values) that change smtpd's behaviour and are not modelled.
    pub unmodelled: Vec<String>,
    /// Parameters set that have no bearing on smtpd's dialogue.
    pub no_effect: Vec<String>,
}

impl FromMainCf {
    /// The lines for stderr: what was not modelled and what was read without effect.
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.unmodelled.is_empty() {
            out.push(format!(
                "postconf: not modelled (smtpsim answers as if unset): {}",
                self.unmodelled.join(", ")
            ));
        }
        if !self.no_effect.is_empty() {
            out.push(format!(
                "postconf: read, no effect on smtpd's replies (local users come from mailboxes): {}",
                self.no_effect.join(", ")
            ));
        }
        out
    }
}

/// Reads `path` (`main.cf` or `postconf -n` output) and configures `base` (the postfix
/// preset with the scenario's or command line's mailboxes) from it. `strict`: anything not
/// modelled is an error.
pub fn load(path: &Path, base: ServerConfig, strict: bool) -> Result<FromMainCf, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--postconf {}: {e}", path.display()))?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let cf = MainCf::parse(&path.display().to_string(), &text, &host)?;
    let out = configure(&cf, base)?;
    if strict && !out.unmodelled.is_empty() {
        return Err(format!(
            "{}: not modelled (--strict): {}",
            cf.file(),
            out.unmodelled.join(", ")
        ));
    }
    Ok(out)
}

/// Configures `base` from `cf`.
pub fn configure(cf: &MainCf, base: ServerConfig) -> Result<FromMainCf, String> {
    let mut unmodelled = Vec::new();
    let mut no_effect = Vec::new();
    for name in cf.names() {
        // smtp_* and lmtp_*: Postfix's SMTP/LMTP client, not its server.
        if NO_EFFECT.contains(&name) || name.starts_with("smtp_") || name.starts_with("lmtp_") {
            no_effect.push(name.to_string());
        } else if !MODELLED.contains(&name) {
            unmodelled.push(name.to_string());
        }
    }
    let mut s = base;
    s.hostname = cf.get("myhostname")?;
    let origin = cf.get("myorigin")?;
    if origin.starts_with('/') {
        unmodelled.push(format!("myorigin (a file: {origin})"));
        s.origin = String::new();
    } else {
        s.origin = origin;
    }
    let mut local = Vec::new();
    for entry in cf.list("mydestination")? {
        if entry.contains(':') || entry.starts_with('/') {
            unmodelled.push(format!("mydestination ({entry})"));
        } else {
            local.push(entry);
        }
    }
    local.extend(interface_literals(cf, &mut unmodelled)?);
    s.local_domains = local;
    s.relay_domains = cf.list("relay_domains")?;
    s.mynetworks = if cf.is_set("mynetworks") {
        let mut nets = Vec::new();
        for entry in cf.list("mynetworks")? {
            if network(&entry) {
                nets.push(entry);
            } else {
                unmodelled.push(format!("mynetworks ({entry})"));
            }
        }
        nets
    } else {
        // mynetworks_style = host: this machine's addresses; loopback is what smtpsim knows.
        vec!["127.0.0.1".into(), "[::1]".into()]
    };
    s.recipient_delimiter = cf.get("recipient_delimiter")?;
    s.reply_banner = format!("220 {}", cf.get("smtpd_banner")?);
    s.message_size_limit = cf.int("message_size_limit")?;
    s.recipient_limit = count(cf, "smtpd_recipient_limit")?;
    s.helo_required = cf.bool("smtpd_helo_required")?;
    for (name, list) in [
        ("smtpd_helo_restrictions", &mut s.helo_restrictions),
        ("smtpd_sender_restrictions", &mut s.sender_restrictions),
        ("smtpd_relay_restrictions", &mut s.relay_restrictions),
        (
            "smtpd_recipient_restrictions",
            &mut s.recipient_restrictions,
        ),
    ] {
        *list = cf.list(name)?;
        for item in list.iter() {
            if !restrictions::SUPPORTED.contains(&item.as_str()) {
                unmodelled.push(format!("{name} ({item})"));
            }
        }
    }
    s.junk_command_limit = count(cf, "smtpd_junk_command_limit")?;
    s.soft_error_limit = count(cf, "smtpd_soft_error_limit")?;
    s.hard_error_limit = count(cf, "smtpd_hard_error_limit")?;
    s.error_sleep = Dur::secs(cf.seconds("smtpd_error_sleep_time")?);
    s.timeout = Dur::secs(cf.seconds("smtpd_timeout")?);
    let mut discard: Vec<String> = cf
        .list("smtpd_discard_ehlo_keywords")?
        .into_iter()
        .map(|k| k.to_ascii_uppercase())
        .collect();
    if cf.bool("disable_vrfy_command")? {
        s.reply_vrfy_disabled = "502 5.5.1 VRFY command is disabled".into();
        discard.push("VRFY".into());
    }
    if !cf.bool("smtputf8_enable")? {
        unmodelled.push("smtputf8_enable (no: only the EHLO keyword is dropped)".into());
        discard.push("SMTPUTF8".into());
    }
    s.ehlo_keywords.retain(|k| {
        let word = k
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        !discard.contains(&word)
    });
    let tls = tls(cf, &mut unmodelled)?;
    unmodelled.sort();
    unmodelled.dedup();
    Ok(FromMainCf {
        server: s,
        tls,
        unmodelled,
        no_effect,
    })
}

fn count(cf: &MainCf, name: &str) -> Result<u32, String> {
    let n = cf.int(name)?;
    u32::try_from(n)
        .map_err(|_| format!("{}:{}: {name} = {n}: too large", cf.file(), cf.line(name)))
}

/// The address literals of the interfaces Postfix listens on: always local.
fn interface_literals(cf: &MainCf, unmodelled: &mut Vec<String>) -> Result<Vec<String>, String> {
    let protocols = cf.list("inet_protocols")?;
    let v6 = protocols
        .iter()
        .any(|p| p.eq_ignore_ascii_case("all") || p.eq_ignore_ascii_case("ipv6"));
    let mut out = Vec::new();
    for entry in cf.list("inet_interfaces")? {
        match entry.to_ascii_lowercase().as_str() {
            "all" | "loopback-only" | "localhost" => {
                out.push("[127.0.0.1]".to_string());
                if v6 {
                    out.push("[IPv6:::1]".to_string());
                }
                if entry.eq_ignore_ascii_case("all") {
                    unmodelled.push("inet_interfaces (all: only loopback is known)".into());
                }
            }
            _ => {
                let bare = entry.trim_start_matches('[').trim_end_matches(']');
                match bare.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(a)) => out.push(format!("[{a}]")),
                    Ok(std::net::IpAddr::V6(a)) => out.push(format!("[IPv6:{a}]")),
                    Err(_) => unmodelled.push(format!("inet_interfaces ({entry})")),
                }
            }
        }
    }
    Ok(out)
}

/// An address or CIDR block (IPv6 in brackets or not).
fn network(entry: &str) -> bool {
    let (addr, len) = entry.split_once('/').unwrap_or((entry, "0"));
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    addr.parse::<std::net::IpAddr>().is_ok() && len.parse::<u8>().is_ok()
}

fn tls(cf: &MainCf, unmodelled: &mut Vec<String>) -> Result<Tls, String> {
    let level = cf.get("smtpd_tls_security_level")?.to_ascii_lowercase();
    let (cert, key) = (
        cf.get("smtpd_tls_cert_file")?,
        cf.get("smtpd_tls_key_file")?,
    );
    match level.as_str() {
        "" | "none" => Ok(Tls::Off),
        "may" if cert.is_empty() => Ok(Tls::Off),
        "may" => Ok(Tls::Files(cert.into(), key.into())),
        other => {
            unmodelled.push(format!("smtpd_tls_security_level ({other})"));
            Ok(if cert.is_empty() {
                Tls::Off
            } else {
                Tls::Files(cert.into(), key.into())
            })
        }
    }
}
