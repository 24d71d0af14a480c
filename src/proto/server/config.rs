//! What a server session may be configured to do: [`ServerConfig`], plain data.

config! {
    $
    /// Everything a server session does that a scenario may change.
    pub struct ServerConfig at crate::proto::server::ServerConfig, fields: server_config_fields {
        /// Name in the banner and replies.
        pub hostname: String,
        /// Local mailboxes (full addresses); recipients in local domains not listed are unknown users.
        /// Empty: every local address exists.
        pub mailboxes: Vec<String>,
        /// Domains delivered locally, besides `hostname` and the domains of `mailboxes`;
        /// `"*"`: every domain (what `serve` uses when neither this nor `mailboxes` is set).
        pub local_domains: Vec<String>,
        /// A bare `HELO`/`EHLO` gets the syntax error (false: accepted).
        pub helo_requires_name: bool,
        /// MAIL before HELO/EHLO gets `reply_need_helo`.
        pub helo_required: bool,
        /// EHLO keywords after the greeting line, in order (`{size_limit}` allowed).
        pub ehlo_keywords: Vec<String>,
        /// Idle time waiting for a command or data before `reply_timeout` and close.
        pub timeout: crate::proto::dur::Dur,
        /// `timeout` bounds the time to receive a whole line, not the silence between bytes,
        /// so a client sending a byte at a time is cut too (Postfix's
        /// `smtpd_per_record_deadline`, on when Postfix is under stress).
        pub per_record_deadline: bool,
        /// NOOP, RSET, VRFY, ETRN, HELO, EHLO beyond this many count as errors (0: no limit).
        pub junk_command_limit: u32,
        /// From this many errors on, every reply is delayed by `error_sleep` (0: never).
        pub soft_error_limit: u32,
        /// At this many errors the server sends `reply_too_many_errors` and closes (0: never).
        pub hard_error_limit: u32,
        /// Delay per reply once the soft error limit is reached.
        pub error_sleep: crate::proto::dur::Dur,
        /// Most recipients per message.
        pub recipient_limit: u32,
        /// Largest message in bytes (also announced as SIZE).
        pub message_size_limit: u64,
        /// Longest command or content line kept; longer command lines are cut (Postfix) or rejected.
        pub line_length_limit: usize,
        /// Over-long command lines get `reply_line_too_long` instead of being cut.
        pub reject_long_lines: bool,
        /// A bare LF ends a line, in commands and in message content.
        pub bare_lf_ends_line: bool,
        /// Header-like lines (`Subject:`), CONNECT/GET/POST and lines starting with a non-letter
        /// get `reply_break_rules` and a disconnect.
        pub hang_up_on_non_smtp: bool,
        /// Once a MAIL was refused for its SIZE, later MAIL commands are refused too (Postfix).
        pub size_refusal_sticks: bool,
        /// MAIL, RCPT and VRFY arguments are read as Postfix reads them: its tokenizer, RFC 822
        /// address extraction, trivial-rewrite's resolution (`%` and `!` routing, quoted local
        /// parts), its ESMTP parameters; `postmaster` and `MAILER-DAEMON` always exist.
        pub postfix_envelope: bool,
        /// Until this time from the start, the queue has no room: every MAIL gets
        /// `reply_storage_full` (Postfix's `queue_minfree` check; 0: never).
        pub storage_full_until: crate::proto::dur::Dur,
        /// Banner.
        pub reply_banner: String,
        /// HELO accepted.
        pub reply_helo: String,
        /// HELO without a name.
        pub reply_helo_syntax: String,
        /// EHLO without a name.
        pub reply_ehlo_syntax: String,
        /// MAIL before HELO when `helo_required`.
        pub reply_need_helo: String,
        /// MAIL accepted.
        pub reply_mail_ok: String,
        /// MAIL inside a transaction.
        pub reply_mail_nested: String,
        /// MAIL without `FROM:`.
        pub reply_mail_syntax: String,
        /// MAIL with a malformed address.
        pub reply_mail_bad_address: String,
        /// MAIL with SIZE over the limit.
        pub reply_size_exceeded: String,
        /// MAIL while the queue has no room (`storage_full_until`).
        pub reply_storage_full: String,
        /// RCPT accepted.
        pub reply_rcpt_ok: String,
        /// RCPT before MAIL.
        pub reply_need_mail: String,
        /// RCPT without `TO:`.
        pub reply_rcpt_syntax: String,
        /// RCPT with a malformed address.
        pub reply_rcpt_bad_address: String,
        /// RCPT for a local address not in `mailboxes`.
        pub reply_unknown_user: String,
        /// RCPT for a non-local domain.
        pub reply_relay_denied: String,
        /// RCPT beyond `recipient_limit`.
        pub reply_too_many_recipients: String,
        /// DATA with no transaction.
        pub reply_need_rcpt: String,
        /// DATA when every RCPT was refused.
        pub reply_no_valid_recipients: String,
        /// DATA with an argument.
        pub reply_data_syntax: String,
        /// DATA accepted.
        pub reply_data_go: String,
        /// Message accepted.
        pub reply_queued: String,
        /// A BDAT chunk (RFC 3030) taken, `{size}` its bytes (empty: BDAT is an unknown
        /// command). The other BDAT replies are Postfix's.
        pub reply_bdat_ok: String,
        /// A message ended by `BDAT n LAST` accepted (`{size}`: its bytes).
        pub reply_bdat_queued: String,
        /// Message over `message_size_limit`.
        pub reply_message_too_big: String,
        /// RSET.
        pub reply_rset: String,
        /// RSET with an argument.
        pub reply_rset_syntax: String,
        /// NOOP.
        pub reply_noop: String,
        /// QUIT.
        pub reply_quit: String,
        /// VRFY of a known local address.
        pub reply_vrfy: String,
        /// VRFY without an argument.
        pub reply_vrfy_syntax: String,
        /// STARTTLS accepted: the TLS handshake follows (RFC 3207).
        pub reply_starttls: String,
        /// STARTTLS with an argument.
        pub reply_starttls_syntax: String,
        /// STARTTLS inside TLS.
        pub reply_tls_active: String,
        /// STARTTLS when this server has no TLS (live `serve` without `--tls`); STARTTLS is
        /// then not offered either (empty: STARTTLS is an unknown command).
        pub reply_starttls_disabled: String,
        /// Bytes the client sent after STARTTLS and before the handshake are thrown away
        /// (Postfix 2.8.4 and later); false: they are read as if they came inside TLS, the
        /// plaintext command injection of CVE-2011-0411.
        pub tls_discard_pipelined: bool,
        /// ETRN without a domain (empty: ETRN is an unknown command).
        pub reply_etrn_syntax: String,
        /// ETRN for a domain (no fast flush service configured).
        pub reply_etrn_unavailable: String,
        /// ETRN inside a mail transaction.
        pub reply_etrn_in_transaction: String,
        /// AUTH (no SASL configured).
        pub reply_auth: String,
        /// XCLIENT or XFORWARD from a client not allowed to use them (empty: unknown commands).
        pub reply_xclient_denied: String,
        /// XCLIENT or XFORWARD inside a mail transaction.
        pub reply_xclient_in_transaction: String,
        /// Unknown command.
        pub reply_unknown: String,
        /// Empty or whitespace-only line.
        pub reply_bad_syntax: String,
        /// Over-long line when `reject_long_lines`.
        pub reply_line_too_long: String,
        /// Idle timeout.
        pub reply_timeout: String,
        /// Hard error limit.
        pub reply_too_many_errors: String,
        /// Non-SMTP input when `hang_up_on_non_smtp`.
        pub reply_break_rules: String,
    }
}

impl ServerConfig {
    /// Lower-cased domains delivered locally.
    pub fn local_domain_set(&self) -> Vec<String> {
        let mut domains: Vec<String> = vec![self.hostname.to_ascii_lowercase()];
        domains.extend(self.local_domains.iter().map(|d| d.to_ascii_lowercase()));
        for mailbox in &self.mailboxes {
            if let Some((_, d)) = mailbox.rsplit_once('@') {
                domains.push(d.to_ascii_lowercase());
            }
        }
        domains.sort();
        domains.dedup();
        domains
    }
}
