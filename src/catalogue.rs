//! The sims of `sims/`, built into the binary: each runs by name from anywhere
//! (`smtpsim run symantec-rset`, or `sims/symantec-rset.toml` where no such file exists), and
//! `smtpsim new` starts a scenario from one. `tests/cli.rs` checks the list against `sims/`.

/// Every built-in sim: its name (the file stem) and its text.
pub const SIMS: &[(&str, &str)] = &[
    (
        "asa-starttls-stripped",
        include_str!("../sims/asa-starttls-stripped.toml"),
    ),
    (
        "asa-too-many-recipients",
        include_str!("../sims/asa-too-many-recipients.toml"),
    ),
    (
        "av-tls-refused-plaintext",
        include_str!("../sims/av-tls-refused-plaintext.toml"),
    ),
    (
        "bare-helo-exchange",
        include_str!("../sims/bare-helo-exchange.toml"),
    ),
    (
        "bare-helo-postfix",
        include_str!("../sims/bare-helo-postfix.toml"),
    ),
    (
        "bare-helo-relaxed",
        include_str!("../sims/bare-helo-relaxed.toml"),
    ),
    (
        "bdat-reset-mid-chunk",
        include_str!("../sims/bdat-reset-mid-chunk.toml"),
    ),
    (
        "bdat-through-av-proxy",
        include_str!("../sims/bdat-through-av-proxy.toml"),
    ),
    (
        "clamsmtp-virus-dropped",
        include_str!("../sims/clamsmtp-virus-dropped.toml"),
    ),
    (
        "fortigate-splice-detection",
        include_str!("../sims/fortigate-splice-detection.toml"),
    ),
    (
        "mail-shield-early-ack",
        include_str!("../sims/mail-shield-early-ack.toml"),
    ),
    (
        "mail-shield-tagging",
        include_str!("../sims/mail-shield-tagging.toml"),
    ),
    (
        "noop-keepalive-junk-limit",
        include_str!("../sims/noop-keepalive-junk-limit.toml"),
    ),
    (
        "norton-av-starttls",
        include_str!("../sims/norton-av-starttls.toml"),
    ),
    (
        "partition-heals",
        include_str!("../sims/partition-heals.toml"),
    ),
    (
        "passthrough-baseline",
        include_str!("../sims/passthrough-baseline.toml"),
    ),
    ("pix-mailguard", include_str!("../sims/pix-mailguard.toml")),
    (
        "pix-split-dot-duplicates",
        include_str!("../sims/pix-split-dot-duplicates.toml"),
    ),
    (
        "pix-ssmtp-split-dot",
        include_str!("../sims/pix-ssmtp-split-dot.toml"),
    ),
    (
        "postfix-connection-cache",
        include_str!("../sims/postfix-connection-cache.toml"),
    ),
    (
        "postfix-queue-retry",
        include_str!("../sims/postfix-queue-retry.toml"),
    ),
    (
        "proxsmtp-filter-refusal",
        include_str!("../sims/proxsmtp-filter-refusal.toml"),
    ),
    (
        "reset-mid-data",
        include_str!("../sims/reset-mid-data.toml"),
    ),
    ("rfc821-abort", include_str!("../sims/rfc821-abort.toml")),
    (
        "scan-longer-than-client-timeout",
        include_str!("../sims/scan-longer-than-client-timeout.toml"),
    ),
    (
        "server-crash-after-dot",
        include_str!("../sims/server-crash-after-dot.toml"),
    ),
    (
        "spampd-slow-sender-server-timeout",
        include_str!("../sims/spampd-slow-sender-server-timeout.toml"),
    ),
    (
        "starttls-command-injection",
        include_str!("../sims/starttls-command-injection.toml"),
    ),
    (
        "starttls-command-injection-fixed",
        include_str!("../sims/starttls-command-injection-fixed.toml"),
    ),
    (
        "starttls-stripped-downgrade",
        include_str!("../sims/starttls-stripped-downgrade.toml"),
    ),
    (
        "stormshield-blocks-bdat",
        include_str!("../sims/stormshield-blocks-bdat.toml"),
    ),
    (
        "symantec-early-ack",
        include_str!("../sims/symantec-early-ack.toml"),
    ),
    (
        "symantec-mail-security-bdat",
        include_str!("../sims/symantec-mail-security-bdat.toml"),
    ),
    ("symantec-rset", include_str!("../sims/symantec-rset.toml")),
    (
        "symantec-telnet",
        include_str!("../sims/symantec-telnet.toml"),
    ),
    (
        "tls-intercepting-av",
        include_str!("../sims/tls-intercepting-av.toml"),
    ),
    (
        "untangle-ehlo-to-helo",
        include_str!("../sims/untangle-ehlo-to-helo.toml"),
    ),
];

/// The built-in sim `arg` names, if it names one: `NAME`, `NAME.toml` or `sims/NAME.toml`.
pub fn find(arg: &str) -> Option<(&'static str, &'static str)> {
    let name = arg.strip_prefix("./").unwrap_or(arg);
    let name = name.strip_prefix("sims/").unwrap_or(name);
    let name = name.strip_suffix(".toml").unwrap_or(name);
    SIMS.iter().copied().find(|(n, _)| *n == name)
}
