//! Interceptor presets: transparent SMTP middleboxes (antivirus proxies, firewalls) built
//! from a handful of knobs. A new middlebox is a new preset here, not new code.

use super::{knobs, unknown_preset, Dur};
use serde::{Deserialize, Serialize};

/// `(name, one-line description)` of every interceptor preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("passthrough", "relays every command and reply unchanged"),
    ("symantec-telnet", "SEP as the telnet test showed: own 354, body held with NOOP keepalives, own 250 at '.', DATA upstream after QUIT"),
    ("symantec-rset", "SEP as the Postfix log showed: own 354, at '.' RSET upstream twice 1 s apart, 10 s scan, then MAIL/RCPT/DATA replayed"),
    ("pix-mailguard", "Cisco PIX Mailguard: banner masked, non-RFC 821 commands turned into NOOP, EHLO refused, a split CRLF.CRLF held back"),
    ("asa-esmtp", "Cisco ASA ESMTP inspection defaults: banner masked, STARTTLS stripped from the EHLO reply"),
];

/// When a held message goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Release {
    /// At the client's final `.`.
    Dot,
    /// At the client's QUIT (or any later command, or its disconnect).
    Quit,
}

knobs! {
    /// Everything an interceptor does that a scenario may change.
    pub struct InterceptorConfig / InterceptorSection {
        /// Answer the client's DATA with this reply and hold the message (empty: relay DATA).
        pub data_reply: String,
        /// When a held message is sent upstream.
        pub release_on: Release,
        /// Answer the client's final `.` with this reply at once (empty: relay the server's verdict).
        pub ack_dot: String,
        /// Sent upstream while a message is held (empty: nothing).
        pub keepalive_command: String,
        /// Interval between keepalive commands.
        pub keepalive_interval: Dur,
        /// RSET commands sent upstream when the release starts.
        pub upstream_resets: u32,
        /// Time between those RSETs.
        pub reset_interval: Dur,
        /// Scanning time before the held message goes upstream.
        pub scan_delay: Dur,
        /// Resend MAIL and the accepted RCPTs before DATA (needed after an upstream RSET).
        pub replay_envelope: bool,
        /// Replace the banner text except '2', '0' and spaces with '*'.
        pub mask_banner: bool,
        /// Only these verbs pass; others go upstream as NOOP (empty: all pass).
        pub allowed_commands: Vec<String>,
        /// The client's answer to a command turned into NOOP (empty: the server's reply to the NOOP).
        pub rewritten_reply: String,
        /// EHLO keywords removed from the server's EHLO reply.
        pub strip_ehlo_keywords: Vec<String>,
        /// An end-of-data `CRLF.CRLF` split across segments is held back until the client's next
        /// segment (Cisco PIX, Microsoft KB 295725).
        pub hold_split_terminator: bool,
        /// Largest message the interceptor holds, in bytes (0: no limit).
        pub buffer_limit: u64,
        /// The client's answer at '.' when the message was larger than `buffer_limit`.
        pub buffer_overflow_reply: String,
        /// What a client gets when the interceptor cannot reach its upstream, before the close
        /// (empty: just the close).
        pub upstream_failure_reply: String,
    }
    extra {}
}

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
                ..base
            },
            "symantec-rset" => InterceptorConfig {
                data_reply: "354 Please start mail input.".into(),
                release_on: Release::Dot,
                upstream_resets: 2,
                reset_interval: Dur::secs(1),
                scan_delay: Dur::secs(10),
                replay_envelope: true,
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
                strip_ehlo_keywords: vec!["STARTTLS".into()],
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
    }
}
