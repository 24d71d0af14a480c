//! Postfix's access restrictions in their common forms, as smtpd evaluates them at RCPT and
//! VRFY with `smtpd_delay_reject = yes`: the HELO, sender, relay and recipient lists in that
//! order, each until its first `permit` or refusal. Items that need DNS or lookup tables are
//! not here (the profile lists them as unmodelled when it reads a `main.cf`).

use super::ServerConfig;
use crate::proto::envelope::{self, Resolved};

/// Restriction names this module evaluates.
pub const SUPPORTED: &[&str] = &[
    "permit",
    "reject",
    "permit_mynetworks",
    "permit_sasl_authenticated",
    "permit_auth_destination",
    "reject_unauth_destination",
    "defer_unauth_destination",
    "reject_invalid_helo_hostname",
    "reject_non_fqdn_helo_hostname",
    "reject_non_fqdn_sender",
    "reject_non_fqdn_recipient",
    "reject_unlisted_recipient",
];

/// What a restriction list decided.
enum Verdict {
    /// Go on with the next list.
    Next,
    /// Refused with this reply.
    Refuse(String),
}

/// What the checks look at.
pub struct Subject<'a> {
    /// The client's address.
    pub client: &'a str,
    /// The HELO/EHLO name, if any.
    pub helo: Option<&'a str>,
    /// The sender (MAIL FROM) of the transaction, if any.
    pub sender: Option<&'a str>,
    /// The recipient as given (internal form).
    pub recipient: &'a str,
    /// The recipient resolved.
    pub resolved: &'a Resolved,
    /// The resolved domain is local.
    pub local: bool,
    /// The local recipient table knows the resolved address.
    pub known: bool,
}

/// The reply refusing the recipient, or None if it is accepted. `relay_denied` is the
/// template of `defer_unauth_destination` (the profile's relay reply).
pub fn check(cfg: &ServerConfig, s: &Subject, relay_denied: &str) -> Option<String> {
    // RFC 5321 §4.5.1: `postmaster` without a domain is always taken.
    if s.recipient.eq_ignore_ascii_case("postmaster") {
        return None;
    }
    let lists = [
        &cfg.helo_restrictions,
        &cfg.sender_restrictions,
        &cfg.relay_restrictions,
        &cfg.recipient_restrictions,
    ];
    if let Some(refusal) = run(cfg, s, &lists, relay_denied) {
        return Some(refusal);
    }
    // smtpd_reject_unlisted_recipient: a local address not in the local recipient table.
    if s.local && !s.resolved.routed && !s.known {
        return Some(cfg.reply_unknown_user.replace("{addr}", s.recipient));
    }
    None
}

/// The HELO and sender restrictions alone (ETRN, which delayed rejection also runs them
/// for): the refusal, if any.
pub fn early(
    cfg: &ServerConfig,
    client: &str,
    helo: Option<&str>,
    sender: Option<&str>,
) -> Option<String> {
    let resolved = Resolved {
        address: String::new(),
        local: String::new(),
        domain: String::new(),
        error: false,
        routed: false,
    };
    let s = Subject {
        client,
        helo,
        sender,
        recipient: "",
        resolved: &resolved,
        local: true,
        known: true,
    };
    run(
        cfg,
        &s,
        &[&cfg.helo_restrictions, &cfg.sender_restrictions],
        "",
    )
}

/// The lists in order: Some(refusal) at the first refusal.
fn run(
    cfg: &ServerConfig,
    s: &Subject,
    lists: &[&Vec<String>],
    relay_denied: &str,
) -> Option<String> {
    for list in lists {
        for item in list.iter() {
            match evaluate(cfg, s, item, relay_denied) {
                Some(Verdict::Next) => break,
                Some(Verdict::Refuse(reply)) => return Some(reply),
                None => {}
            }
        }
    }
    None
}

/// One item: None to go on with the list, else its verdict.
fn evaluate(cfg: &ServerConfig, s: &Subject, item: &str, relay_denied: &str) -> Option<Verdict> {
    let rcpt = s.recipient;
    let authorized = !s.resolved.routed && (s.local || relay_domain(cfg, &s.resolved.domain));
    let refuse = |text: String| Some(Verdict::Refuse(text));
    match item {
        "permit" => Some(Verdict::Next),
        "reject" => refuse(format!(
            "554 5.7.1 <{rcpt}>: Recipient address rejected: Access denied"
        )),
        "permit_mynetworks" if in_networks(&cfg.mynetworks, s.client) => Some(Verdict::Next),
        "permit_auth_destination" if authorized => Some(Verdict::Next),
        "reject_unauth_destination" if !authorized => {
            refuse(format!("554 5.7.1 <{rcpt}>: Relay access denied"))
        }
        "defer_unauth_destination" if !authorized => refuse(relay_denied.replace("{addr}", rcpt)),
        "reject_invalid_helo_hostname" => {
            let helo = s.helo?;
            let name = helo.strip_suffix('.').unwrap_or(helo);
            let valid = hostname(cfg, name)
                || envelope::valid_literal(helo)
                || helo.parse::<std::net::IpAddr>().is_ok();
            (!valid).then(|| {
                Verdict::Refuse(format!(
                    "501 5.5.2 <{helo}>: Helo command rejected: Invalid name"
                ))
            })
        }
        "reject_non_fqdn_helo_hostname" => {
            let helo = s.helo?;
            let name = helo.strip_suffix('.').unwrap_or(helo);
            let fqdn = envelope::valid_literal(helo) || (hostname(cfg, name) && name.contains('.'));
            (!fqdn).then(|| {
                Verdict::Refuse(format!(
                    "504 5.5.2 <{helo}>: Helo command rejected: need fully-qualified hostname"
                ))
            })
        }
        "reject_non_fqdn_sender" => {
            let sender = s.sender.filter(|a| !a.is_empty())?;
            (!fqdn_address(sender)).then(|| {
                Verdict::Refuse(format!(
                    "504 5.5.2 <{sender}>: Sender address rejected: need fully-qualified address"
                ))
            })
        }
        "reject_non_fqdn_recipient" => (!fqdn_address(rcpt)).then(|| {
            Verdict::Refuse(format!(
                "504 5.5.2 <{rcpt}>: Recipient address rejected: need fully-qualified address"
            ))
        }),
        "reject_unlisted_recipient" if s.local && !s.resolved.routed && !s.known => {
            refuse(cfg.reply_unknown_user.replace("{addr}", rcpt))
        }
        _ => None,
    }
}

/// Postfix's `valid_hostname`: non-ASCII labels only when SMTPUTF8 is enabled.
fn hostname(cfg: &ServerConfig, name: &str) -> bool {
    (cfg.offers("SMTPUTF8") || name.is_ascii()) && envelope::valid_hostname(name)
}

/// An address with a fully-qualified domain (a name with a dot, or an address literal).
fn fqdn_address(address: &str) -> bool {
    let Some((_, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let name = domain.strip_suffix('.').unwrap_or(domain);
    envelope::valid_literal(domain) || (envelope::valid_hostname(name) && name.contains('.'))
}

/// `domain` is in `relay_domains`, or is a subdomain of one of them (Postfix's
/// `parent_domain_matches_subdomains` names relay_domains by default).
pub fn relay_domain(cfg: &ServerConfig, domain: &str) -> bool {
    let domain = domain.to_ascii_lowercase();
    let domain = domain.strip_suffix('.').unwrap_or(&domain);
    cfg.relay_domains.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        match entry.strip_prefix('.') {
            Some(parent) => domain.ends_with(&format!(".{parent}")),
            None => entry == domain || domain.ends_with(&format!(".{entry}")),
        }
    })
}

/// The client's address is in one of `networks` (addresses or CIDR blocks, IPv6 ones in
/// brackets or not).
pub fn in_networks(networks: &[String], client: &str) -> bool {
    let Ok(client) = client.parse::<std::net::IpAddr>() else {
        return false;
    };
    let client = match client {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, std::net::IpAddr::V4),
        v4 => v4,
    };
    networks.iter().any(|net| {
        let (addr, len) = net.split_once('/').unwrap_or((net, ""));
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let Ok(addr) = addr.parse::<std::net::IpAddr>() else {
            return false;
        };
        let (a, c, bits) = match (addr, client) {
            (std::net::IpAddr::V4(a), std::net::IpAddr::V4(c)) => {
                (u32::from(a) as u128, u32::from(c) as u128, 32)
            }
            (std::net::IpAddr::V6(a), std::net::IpAddr::V6(c)) => {
                (u128::from(a), u128::from(c), 128)
            }
            (std::net::IpAddr::V6(a), std::net::IpAddr::V4(c)) => match a.to_ipv4_mapped() {
                // [::ffff:127.0.0.0]/104 covers 127.0.0.0/8.
                Some(a) => (u32::from(a) as u128, u32::from(c) as u128, 32),
                None => return false,
            },
            _ => return false,
        };
        let mut prefix: u32 = if len.is_empty() {
            bits
        } else {
            match len.parse() {
                Ok(p) => p,
                Err(_) => return false,
            }
        };
        if bits == 32 && addr.is_ipv6() {
            prefix = prefix.saturating_sub(96);
        }
        let shift = bits.saturating_sub(prefix.min(bits));
        if shift >= 128 {
            return true;
        }
        (a >> shift) == (c >> shift)
    })
}
