//! What an interceptor does that a scenario may change: [`InterceptorConfig`], its knobs with
//! their docs (the CLI's `list` and docs/knobs.md are made from them), and the two choices it
//! names ([`Release`], [`StartTls`]).

/// When a held message goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Release {
    /// At the client's final `.`.
    Dot,
    /// At the client's QUIT (or any later command, or its disconnect).
    Quit,
}

/// What the interceptor does with the client's STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartTls {
    /// Relay it; once the server says 220 the rest of the connection is TLS between client
    /// and server, relayed byte for byte and not scanned.
    Relay,
    /// Answer it with `starttls_refusal` itself; the server never sees it.
    Refuse,
    /// Terminate TLS on both legs with the interceptor's own certificate toward the client
    /// (TLS inspection): the interceptor reads, and applies its rules to, everything.
    Intercept,
    /// Relay it, and the server's 220, as any other command, then go on reading the client as
    /// command lines: its TLS handshake is taken for a line that never ends, and both ends
    /// wait until a timeout (spampd: its SMTP code knows no STARTTLS).
    Unaware,
}

config! {
    $
    /// Everything an interceptor does that a scenario may change.
    pub struct InterceptorConfig at crate::proto::interceptor::InterceptorConfig, fields: interceptor_config_fields {
        /// Answer the client's DATA with this reply and hold the message (empty: relay DATA).
        pub data_reply: String,
        /// When a held message is sent upstream.
        pub release_on: crate::proto::interceptor::Release,
        /// Answer the client's final `.` with this reply at once (empty: relay the server's verdict).
        pub ack_dot: String,
        /// Sent upstream while a message is held (empty: nothing).
        pub keepalive_command: String,
        /// Interval between keepalive commands.
        pub keepalive_interval: crate::proto::dur::Dur,
        /// RSET commands sent upstream when the release starts.
        pub upstream_resets: u32,
        /// Time between those RSETs.
        pub reset_interval: crate::proto::dur::Dur,
        /// Scanning time before the held message goes upstream.
        pub scan_delay: crate::proto::dur::Dur,
        /// Resend MAIL and the accepted RCPTs before DATA (needed after an upstream RSET).
        pub replay_envelope: bool,
        /// Replace the banner text except '2', '0' and spaces with '*'.
        pub mask_banner: bool,
        /// The interceptor's own name in place of the server's: a positive banner becomes
        /// `220 NAME` (one line), and a positive EHLO or HELO reply's first line becomes NAME
        /// (empty, the default: the server's texts pass).
        pub own_hostname: String,
        /// Only these verbs pass; others go upstream as NOOP (empty: all pass).
        pub allowed_commands: Vec<String>,
        /// The client's answer to a command turned into NOOP (empty: the server's reply to the NOOP).
        pub rewritten_reply: String,
        /// EHLO keywords removed from the server's EHLO reply.
        pub strip_ehlo_keywords: Vec<String>,
        /// When the EHLO reply's last line is a keyword `strip_ehlo_keywords` removes, this
        /// keyword ends the reply in its place (proxsmtp's and clamsmtp's `XFILTERED`; empty, the
        /// default: the line before ends it).
        pub stripped_last_placeholder: String,
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
        /// What happens to the client's STARTTLS: relay, refuse, intercept, unaware.
        pub starttls: crate::proto::interceptor::StartTls,
        /// The client's answer to STARTTLS under `starttls = "refuse"`.
        pub starttls_refusal: String,
        /// Commands added, in plaintext, right after a relayed STARTTLS (a man in the middle
        /// exploiting CVE-2011-0411: a vulnerable server runs them inside the TLS session).
        pub inject_after_starttls: Vec<String>,
        /// The client's EHLO goes upstream as HELO with the same name, so the client gets the
        /// server's HELO reply: no ESMTP keywords at all (Untangle / Arista NG Firewall).
        pub ehlo_as_helo: bool,
        /// The client's answer to QUIT in place of the server's reply (empty: the server's).
        pub quit_reply: String,
        /// Verbs never relayed: each gets `blocked_reply` (a BDAT's chunk is discarded), or
        /// drops both connections when `blocked_reply` is empty (empty list: none blocked).
        pub blocked_commands: Vec<String>,
        /// The client's answer to a verb in `blocked_commands` (empty: the connection is
        /// dropped instead).
        pub blocked_reply: String,
        /// Longest client command line passed, in bytes without CRLF; a longer one drops both
        /// connections (0: no limit).
        pub max_command_line: u64,
        /// Most RCPT commands in one transaction; one more drops both connections (0: no limit).
        pub max_rcpt: u32,
        /// Longest sender address (MAIL FROM, between the angle brackets), in bytes; a longer
        /// one drops both connections (0: no limit).
        pub max_sender: u64,
        /// Longest header line of a message sent with DATA, in bytes without CRLF; a longer one
        /// drops both connections in the middle of the message (0: no limit).
        pub max_header_line: u64,
        /// Longest server reply line passed, in bytes without CRLF; a longer one drops both
        /// connections (0: no limit).
        pub max_reply_line: u64,
        /// A message sent with DATA whose content has this text in one line is a detection:
        /// the rest is discarded, the client gets `detection_reply` at its '.', and a message
        /// being relayed has its server connection cut mid-DATA (empty: nothing detected).
        pub block_signature: String,
        /// The client's answer at '.' to a message with `block_signature` in it; after it a
        /// relayed message's client connection is closed too. A 2xx reply drops the message
        /// while the sender is told it went (clamsmtp's `Action: drop`).
        pub detection_reply: String,
        /// RSET goes upstream when a held message is given up (refused for its content, or the
        /// client left in the middle of it), ending the transaction its relayed MAIL and RCPT
        /// opened (proxsmtp); a client that left has its server connection closed after it. Off by
        /// default.
        pub reset_abandoned: bool,
        /// The client's answer when the server closes while the client waits for the verdict on
        /// a held message, sent before the close (empty, the default: just the close).
        pub upstream_lost_reply: String,
        /// Put in front of the text of a message's first Subject header (empty: no tag).
        pub subject_tag: String,
        /// Lines added at the end of every message sent with DATA, before the final '.'
        /// (`\n` between lines; empty: nothing added).
        pub body_footer: String,
        /// A header field added at the end of the header section of every message sent with
        /// DATA, e.g. clamsmtp's `X-Virus-Scanned: ClamAV using ClamSMTP` (empty, the default:
        /// none; a message with no empty line after its header gets none).
        pub added_header: String,
        /// Client commands go upstream one at a time: a command waits, unread, until the
        /// server has answered the one before, whatever the client pipelined; input left when
        /// the client closes is still relayed (spampd reads, relays, and waits for the reply,
        /// one line at a time). Off by default.
        pub lock_step: bool,
        /// DATA is relayed and the server's 354 goes to the client, then the content is held
        /// until the client's '.' and sent upstream after `scan_delay` with its '.' in one go
        /// (spampd: the server sees DATA at once and the message only after the scan). Off by
        /// default; with `data_reply` set, the interceptor answers DATA itself instead.
        pub hold_body: bool,
        /// Header fields put at the top of a held message without `tag_signature`, before its
        /// first line (spampd `--tagall`: SpamAssassin's X-Spam-Checker-Version, X-Spam-Level,
        /// X-Spam-Status). Empty, the default: none.
        pub top_headers: Vec<String>,
        /// A held message with this text in one line is tagged, not refused: it is delivered
        /// with `tag_headers` at its top in place of `top_headers` (SpamAssassin's verdict on
        /// the GTUBE test string). Empty, the default: nothing tagged.
        pub tag_signature: String,
        /// Header fields put at the top of a held message with `tag_signature` in it.
        pub tag_headers: Vec<String>,
        /// A held message given header fields at its top loses the empty lines at its end
        /// (spampd splits the rewritten message into lines, which drops trailing empty ones).
        /// Off by default.
        pub trim_trailing_blank_lines: bool,
        /// When the server has closed, the client gets an empty line (`CRLF`) for the reply
        /// it is owed, and for its next command, which still goes to the closed connection (a
        /// reply the server sent before it closed, left unread under `lock_step`, is given
        /// instead); the
        /// command after that, or the end of a held message, closes both connections (spampd:
        /// its SMTP client reads no reply at the server's close and writes the empty one; its
        /// second write to the closed socket fails and the session ends). Off by default: the
        /// client connection is closed with the server's.
        pub server_gone_empty_reply: bool,
        /// With `hold_body`: a refusal of DATA in more than one line is relayed but missed:
        /// what the client sends next (its RSET or QUIT) is held as message content until a
        /// '.' line (spampd leaves its data state only on a one-line 4xx or 5xx reply). Off by
        /// default.
        pub multiline_data_refusal_missed: bool,
    }
}
