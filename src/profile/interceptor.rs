//! Interceptor presets: transparent SMTP middleboxes (antivirus proxies, firewalls) built
//! from a handful of knobs. A new middlebox is a new preset here, not new code.
//!
//! BDAT (RFC 3030 CHUNKING): every preset frames a `BDAT n [LAST]` chunk as n bytes of data,
//! never as command lines. What each preset does about it, and on what authority:
//! - `passthrough`: relays the command and its chunk.
//! - `asa-esmtp`: CHUNKING is taken out of the EHLO reply, so clients send DATA. Documented:
//!   the default ESMTP map masks the EHLO reply parameters it does not know (`match
//!   ehlo-reply-parameter others` / `mask`, ASA CLI configuration guide), and Cisco TAC
//!   document 117801 names CHUNKING among the ESMTP extensions the inspection does not
//!   support. Assumed: the masked keyword is removed here as STARTTLS is (the documented
//!   masking overwrites it; either way the client sees no CHUNKING).
//! - `pix-mailguard`: EHLO is refused, so a client never learns of CHUNKING (documented:
//!   Mailguard passes only RFC 821's seven commands). A BDAT sent anyway goes upstream as
//!   NOOP and its chunk is dropped (assumed: the real filter would take the chunk's bytes
//!   for commands).
//! - `symantec-telnet`, `symantec-rset`: CHUNKING is taken out of the EHLO reply, so a
//!   client that would send BDAT sends DATA, which the proxy holds and scans. Assumed: no
//!   public page says what SEP's SMTP scanning does with CHUNKING; it predates RFC 3030 and
//!   must see every body to scan it. A BDAT sent anyway is relayed unscanned (assumed; it is
//!   what Juniper SRX documents for its SMTP antivirus: "Messages using chunking are
//!   bypassed and are not scanned").

use crate::knobs::unknown_preset;
use crate::proto::dur::Dur;
use crate::proto::interceptor::{InterceptorConfig, Release, StartTls};

/// `(name, one-line description)` of every interceptor preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("passthrough", "relays every command and reply unchanged"),
    ("symantec-telnet", "SEP as the telnet test showed: own 354, body held with NOOP keepalives, own 250 at '.', DATA upstream after QUIT"),
    ("symantec-rset", "SEP as the Postfix log showed: own 354, at '.' RSET upstream twice 1 s apart, 10 s scan, then MAIL/RCPT/DATA replayed"),
    ("pix-mailguard", "Cisco PIX Mailguard: banner masked, non-RFC 821 commands turned into NOOP, EHLO refused, a split CRLF.CRLF held back"),
    ("asa-esmtp", "Cisco ASA ESMTP inspection defaults: banner masked, STARTTLS and CHUNKING stripped from the EHLO reply"),
    ("av-tls-refuse", "an antivirus SMTP proxy that cannot scan TLS and answers STARTTLS itself with 454 (assumed behaviour)"),
    ("av-tls-inspect", "an antivirus proxy with TLS scanning (Kaspersky's \"scan encrypted connections\"): its own certificate toward the client, TLS of its own to the server"),
];

impl InterceptorConfig {
    /// A preset by name.
    pub fn preset(name: &str) -> Result<InterceptorConfig, String> {
        let base = passthrough();
        Ok(match name {
            "passthrough" => base,
            "symantec-telnet" => InterceptorConfig {
                data_reply: "354 Please start mail input.".into(),
                release_on: Release::Quit,
                // Not quoted from any source: the origin case only says the proxy acknowledged '.'.
                ack_dot: "250 Message accepted for delivery".into(),
                keepalive_command: "NOOP".into(),
                keepalive_interval: Dur::secs(10),
                strip_ehlo_keywords: vec!["CHUNKING".into()],
                ..base
            },
            "symantec-rset" => InterceptorConfig {
                data_reply: "354 Please start mail input.".into(),
                release_on: Release::Dot,
                upstream_resets: 2,
                reset_interval: Dur::secs(1),
                scan_delay: Dur::secs(10),
                replay_envelope: true,
                strip_ehlo_keywords: vec!["CHUNKING".into()],
                ..base
            },
            "pix-mailguard" => InterceptorConfig {
                mask_banner: true,
                allowed_commands: ["HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT"]
                    .map(String::from)
                    .to_vec(),
                rewritten_reply: "500 5.5.1 Command unrecognized".into(),
                hold_split_terminator: true,
                ..base
            },
            "asa-esmtp" => InterceptorConfig {
                mask_banner: true,
                strip_ehlo_keywords: vec!["STARTTLS".into(), "CHUNKING".into()],
                ..base
            },
            // Assumed, not quoted: a scanner that cannot read TLS keeps the mail readable by
            // refusing STARTTLS (the text is Postfix's RFC 3207 refusal).
            "av-tls-refuse" => InterceptorConfig {
                starttls: StartTls::Refuse,
                ..base
            },
            // Kaspersky scans SMTP "including SSL"
            // (https://support.kaspersky.com/help/Kaspersky/Win21.9/en-US/70873.htm); products that
            // do so terminate TLS with a certificate of their own CA, installed in the
            // system's trust store (clients with their own trust, like Postfix, refuse it).
            "av-tls-inspect" => InterceptorConfig {
                starttls: StartTls::Intercept,
                ..base
            },
            other => return Err(unknown_preset("interceptor", other, PRESETS)),
        })
    }
}

fn passthrough() -> InterceptorConfig {
    InterceptorConfig {
        data_reply: String::new(),
        release_on: Release::Dot,
        ack_dot: String::new(),
        keepalive_command: String::new(),
        keepalive_interval: Dur::default(),
        upstream_resets: 0,
        reset_interval: Dur::secs(1),
        scan_delay: Dur::default(),
        replay_envelope: false,
        mask_banner: false,
        allowed_commands: Vec::new(),
        rewritten_reply: String::new(),
        strip_ehlo_keywords: Vec::new(),
        hold_split_terminator: false,
        buffer_limit: 0,
        // Not quoted from a product: a plausible refusal for a message the scanner cannot hold.
        buffer_overflow_reply: "552 5.3.4 Message too big for the scanner".into(),
        // Not quoted from a product: RFC 3463's X.4.1, "no answer from host".
        upstream_failure_reply: "421 4.4.1 upstream unreachable".into(),
        starttls: StartTls::Relay,
        // Not quoted from a product: Postfix's own text for "no TLS here" (RFC 3207 §4).
        starttls_refusal: "454 4.7.0 TLS not available due to local problem".into(),
        inject_after_starttls: Vec::new(),
    }
}
