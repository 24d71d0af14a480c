//! Server presets: `postfix` (Postfix 3.7 as packaged by Debian 12, default smtpd settings,
//! empty mynetworks), `postfix-relaxed`, `exchange`, `rfc821`. Reply texts are templates:
//! `{host}`, `{addr}`, `{client}`, `{queue_id}`, `{size_limit}` are filled in per reply.

use crate::knobs::unknown_preset;
use crate::proto::dur::Dur;
use crate::proto::server::ServerConfig;

/// `(name, one-line description)` of every server preset.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "postfix",
        "Postfix 3.7.11 (Debian 12) defaults: strict HELO syntax, junk/error limits, 300 s timeout",
    ),
    (
        "postfix-relaxed",
        "postfix with HELO checks off: a bare HELO is accepted (the origin case's fixed server)",
    ),
    (
        "exchange",
        "Microsoft Exchange 2010 texts; ignores an invalid or missing HELO name",
    ),
    (
        "rfc821",
        "the MIT-Multics server of RFC 821's examples: plain texts, no enhanced codes",
    ),
];

impl ServerConfig {
    /// A preset by name.
    pub fn preset(name: &str) -> Result<ServerConfig, String> {
        match name {
            "postfix" => Ok(postfix()),
            "postfix-relaxed" => Ok(ServerConfig {
                helo_requires_name: false,
                ..postfix()
            }),
            "exchange" => Ok(exchange()),
            "rfc821" => Ok(rfc821()),
            other => Err(unknown_preset("server", other, PRESETS)),
        }
    }
}

fn postfix() -> ServerConfig {
    let s = |t: &str| t.to_string();
    ServerConfig {
        hostname: s("mail.example.org"),
        mailboxes: Vec::new(),
        local_domains: Vec::new(),
        origin: String::new(),
        recipient_delimiter: String::new(),
        relay_domains: Vec::new(),
        mynetworks: Vec::new(),
        helo_restrictions: Vec::new(),
        sender_restrictions: Vec::new(),
        relay_restrictions: [
            "permit_mynetworks",
            "permit_sasl_authenticated",
            "defer_unauth_destination",
        ]
        .map(s)
        .to_vec(),
        recipient_restrictions: Vec::new(),
        helo_requires_name: true,
        helo_required: false,
        ehlo_keywords: [
            "PIPELINING",
            "SIZE {size_limit}",
            "VRFY",
            "ETRN",
            "STARTTLS",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "DSN",
            "SMTPUTF8",
            "CHUNKING",
        ]
        .map(s)
        .to_vec(),
        timeout: Dur::secs(300),
        junk_command_limit: 100,
        soft_error_limit: 10,
        hard_error_limit: 20,
        error_sleep: Dur::secs(1),
        recipient_limit: 1000,
        message_size_limit: 10_240_000,
        line_length_limit: 2048,
        reject_long_lines: false,
        bare_lf_ends_line: true,
        hang_up_on_non_smtp: true,
        size_refusal_sticks: true,
        postfix_envelope: true,
        per_record_deadline: false,
        storage_full_until: Dur::default(),
        reply_banner: s("220 {host} ESMTP Postfix (Debian/GNU)"),
        reply_helo: s("250 {host}"),
        reply_helo_syntax: s("501 Syntax: HELO hostname"),
        reply_ehlo_syntax: s("501 Syntax: EHLO hostname"),
        reply_need_helo: s("503 5.5.1 Error: send HELO/EHLO first"),
        reply_mail_ok: s("250 2.1.0 Ok"),
        reply_mail_nested: s("503 5.5.1 Error: nested MAIL command"),
        reply_mail_syntax: s("501 5.5.4 Syntax: MAIL FROM:<address>"),
        reply_mail_bad_address: s("501 5.1.7 Bad sender address syntax"),
        reply_size_exceeded: s("552 5.3.4 Message size exceeds fixed limit"),
        reply_storage_full: s("452 4.3.1 Insufficient system storage"),
        reply_rcpt_ok: s("250 2.1.5 Ok"),
        reply_need_mail: s("503 5.5.1 Error: need MAIL command"),
        reply_rcpt_syntax: s("501 5.5.4 Syntax: RCPT TO:<address>"),
        reply_rcpt_bad_address: s("501 5.1.3 Bad recipient address syntax"),
        reply_unknown_user: s(
            "550 5.1.1 <{addr}>: Recipient address rejected: User unknown in local recipient table",
        ),
        reply_relay_denied: s("454 4.7.1 <{addr}>: Relay access denied"),
        reply_too_many_recipients: s("452 4.5.3 Error: too many recipients"),
        reply_need_rcpt: s("503 5.5.1 Error: need RCPT command"),
        reply_no_valid_recipients: s("554 5.5.1 Error: no valid recipients"),
        reply_data_syntax: s("501 5.5.4 Syntax: DATA"),
        reply_data_go: s("354 End data with <CR><LF>.<CR><LF>"),
        reply_queued: s("250 2.0.0 Ok: queued as {queue_id}"),
        reply_bdat_ok: s("250 2.0.0 Ok: {size} bytes"),
        reply_bdat_queued: s("250 2.0.0 Ok: {size} bytes queued as {queue_id}"),
        reply_message_too_big: s("552 5.3.4 Error: message file too big"),
        reply_rset: s("250 2.0.0 Ok"),
        reply_rset_syntax: s("501 5.5.4 Syntax: RSET"),
        reply_noop: s("250 2.0.0 Ok"),
        reply_quit: s("221 2.0.0 Bye"),
        reply_vrfy: s("252 2.0.0 {addr}"),
        reply_vrfy_syntax: s("501 5.5.4 Syntax: VRFY address [SMTPUTF8]"),
        reply_vrfy_disabled: String::new(),
        // smtpd.c starttls_cmd(); observed: 220 after STARTTLS, 554 for a second one.
        reply_starttls: s("220 2.0.0 Ready to start TLS"),
        reply_starttls_syntax: s("501 5.5.4 Syntax: STARTTLS"),
        reply_tls_active: s("554 5.5.1 Error: TLS already active"),
        reply_starttls_disabled: s("502 5.5.1 Error: command not implemented"),
        tls_discard_pipelined: true,
        reply_etrn_syntax: s("500 Syntax: ETRN domain"),
        reply_etrn_unavailable: s("459 <{addr}>: service unavailable"),
        reply_etrn_in_transaction: s("503 Error: MAIL transaction in progress"),
        reply_auth: s("503 5.5.1 Error: authentication not enabled"),
        reply_xclient_denied: s("550 5.7.0 Error: insufficient authorization"),
        reply_xclient_in_transaction: s("503 5.5.1 Error: MAIL transaction in progress"),
        reply_unknown: s("500 5.5.2 Error: command not recognized"),
        reply_bad_syntax: s("500 5.5.2 Error: bad syntax"),
        reply_line_too_long: s("500 5.5.2 {host} Error: command too long"),
        reply_timeout: s("421 4.4.2 {host} Error: timeout exceeded"),
        reply_too_many_errors: s("421 4.7.0 {host} Error: too many errors"),
        reply_break_rules: s("221 2.7.0 Error: I can break rules, too. Goodbye."),
    }
}

fn exchange() -> ServerConfig {
    let s = |t: &str| t.to_string();
    ServerConfig {
        hostname: s("mail1.fabrikam.com"),
        helo_requires_name: false,
        ehlo_keywords: [
            "SIZE {size_limit}",
            "PIPELINING",
            "DSN",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "BINARYMIME",
            "CHUNKING",
        ]
        .map(s)
        .to_vec(),
        timeout: Dur::secs(600),
        junk_command_limit: 0,
        soft_error_limit: 0,
        hard_error_limit: 0,
        message_size_limit: 10_485_760,
        hang_up_on_non_smtp: false,
        size_refusal_sticks: false,
        postfix_envelope: false,
        per_record_deadline: false,
        storage_full_until: Dur::default(),
        reject_long_lines: true,
        reply_banner: s("220 {host} Microsoft ESMTP MAIL Service ready"),
        reply_helo: s("250 {host} Hello [{client}]"),
        reply_helo_syntax: s("501 5.5.4 Invalid domain name"),
        reply_ehlo_syntax: s("501 5.5.4 Invalid domain name"),
        reply_need_helo: s("503 5.5.2 Send hello first"),
        reply_mail_ok: s("250 2.1.0 Sender OK"),
        reply_mail_nested: s("503 5.5.2 Sender already specified"),
        reply_mail_syntax: s("501 5.5.4 Unrecognized parameter"),
        reply_mail_bad_address: s("501 5.1.7 Invalid address"),
        reply_size_exceeded: s("552 5.3.4 Message size exceeds fixed maximum message size"),
        reply_storage_full: s("452 4.3.1 Insufficient system resources"),
        reply_rcpt_ok: s("250 2.1.5 Recipient OK"),
        reply_need_mail: s("503 5.5.2 Need mail command"),
        reply_rcpt_syntax: s("501 5.5.4 Unrecognized parameter"),
        reply_rcpt_bad_address: s("501 5.1.3 Invalid address"),
        reply_unknown_user: s("550 5.1.1 User unknown"),
        reply_relay_denied: s("550 5.7.1 Unable to relay"),
        reply_too_many_recipients: s("452 4.5.3 Too many recipients"),
        reply_need_rcpt: s("503 5.5.2 Need rcpt command"),
        reply_no_valid_recipients: s("503 5.5.2 Need rcpt command"),
        reply_data_syntax: s("501 5.5.4 Unrecognized parameter"),
        reply_data_go: s("354 Start mail input; end with <CRLF>.<CRLF>"),
        reply_queued: s("250 2.6.0 <{queue_id}@{host}> Queued mail for delivery"),
        // Exchange offers CHUNKING and takes BDAT. Not quoted from Exchange: the reply to a
        // chunk; the last one is answered as the end of DATA is. (Exchange 2007 and 2010 are
        // said to delay every chunk but the last by 5 s; not modelled.)
        reply_bdat_ok: s("250 2.0.0 {size} bytes received"),
        reply_bdat_queued: s("250 2.6.0 <{queue_id}@{host}> Queued mail for delivery"),
        reply_message_too_big: s("552 5.3.4 Message size exceeds fixed maximum message size"),
        reply_rset: s("250 2.0.0 Resetting"),
        reply_rset_syntax: s("501 5.5.4 Unrecognized parameter"),
        reply_noop: s("250 2.0.0 OK"),
        reply_quit: s("221 2.0.0 Service closing transmission channel"),
        reply_vrfy: s("252 2.1.5 Cannot VRFY user, but will take message for <{addr}>"),
        reply_vrfy_syntax: s("501 5.5.4 Unrecognized parameter"),
        // Exchange's documented telnet test answers STARTTLS "220 2.0.0 SMTP server ready";
        // the refusals' texts are assumed.
        reply_starttls: s("220 2.0.0 SMTP server ready"),
        reply_starttls_syntax: s("501 5.5.4 Unrecognized parameter"),
        reply_tls_active: s("503 5.5.2 Send hello first"),
        reply_starttls_disabled: s("454 4.7.0 TLS not available due to temporary reason"),
        reply_etrn_syntax: String::new(),
        reply_etrn_unavailable: String::new(),
        reply_etrn_in_transaction: String::new(),
        reply_auth: s("504 5.7.4 Unrecognized authentication type"),
        reply_xclient_denied: String::new(),
        reply_xclient_in_transaction: String::new(),
        reply_unknown: s("500 5.3.3 Unrecognized command"),
        reply_bad_syntax: s("500 5.3.3 Unrecognized command"),
        reply_line_too_long: s("500 5.3.3 Unrecognized command"),
        reply_timeout: s("421 4.4.1 Connection timed out"),
        reply_too_many_errors: s(
            "421 4.7.0 Too many errors on this connection, closing transmission channel",
        ),
        ..postfix()
    }
}

fn rfc821() -> ServerConfig {
    let s = |t: &str| t.to_string();
    ServerConfig {
        hostname: s("MIT-Multics.ARPA"),
        helo_requires_name: true,
        ehlo_keywords: Vec::new(),
        junk_command_limit: 0,
        soft_error_limit: 0,
        hard_error_limit: 0,
        line_length_limit: 510,
        reject_long_lines: true,
        bare_lf_ends_line: false,
        hang_up_on_non_smtp: false,
        size_refusal_sticks: false,
        postfix_envelope: false,
        per_record_deadline: false,
        storage_full_until: Dur::default(),
        reply_banner: s("220 {host} Simple Mail Transfer Service Ready"),
        reply_helo: s("250 {host}"),
        reply_helo_syntax: s("501 Syntax error in parameters or arguments"),
        reply_ehlo_syntax: s("500 Syntax error, command unrecognized"),
        reply_need_helo: s("503 Bad sequence of commands"),
        reply_mail_ok: s("250 OK"),
        reply_mail_nested: s("503 Bad sequence of commands"),
        reply_mail_syntax: s("501 Syntax error in parameters or arguments"),
        reply_mail_bad_address: s("501 Syntax error in parameters or arguments"),
        reply_size_exceeded: s("552 Requested mail action aborted: exceeded storage allocation"),
        reply_storage_full: s("452 Requested action not taken: insufficient system storage"),
        reply_rcpt_ok: s("250 OK"),
        reply_need_mail: s("503 Bad sequence of commands"),
        reply_rcpt_syntax: s("501 Syntax error in parameters or arguments"),
        reply_rcpt_bad_address: s("501 Syntax error in parameters or arguments"),
        reply_unknown_user: s("550 No such user here"),
        reply_relay_denied: s("551 User not local"),
        reply_too_many_recipients: s(
            "552 Requested mail action aborted: exceeded storage allocation",
        ),
        reply_need_rcpt: s("503 Bad sequence of commands"),
        reply_no_valid_recipients: s("503 Bad sequence of commands"),
        reply_data_syntax: s("501 Syntax error in parameters or arguments"),
        reply_data_go: s("354 Start mail input; end with <CRLF>.<CRLF>"),
        reply_queued: s("250 OK"),
        reply_bdat_ok: String::new(),
        reply_bdat_queued: String::new(),
        reply_message_too_big: s("552 Requested mail action aborted: exceeded storage allocation"),
        reply_rset: s("250 OK"),
        reply_rset_syntax: s("501 Syntax error in parameters or arguments"),
        reply_noop: s("250 OK"),
        reply_quit: s("221 {host} Service closing transmission channel"),
        reply_vrfy: s("250 <{addr}>"),
        reply_vrfy_syntax: s("501 Syntax error in parameters or arguments"),
        // RFC 821 predates STARTTLS: it is an unknown command (not offered either).
        reply_starttls: s("500 Syntax error, command unrecognized"),
        reply_starttls_syntax: s("500 Syntax error, command unrecognized"),
        reply_tls_active: s("500 Syntax error, command unrecognized"),
        reply_starttls_disabled: s("500 Syntax error, command unrecognized"),
        reply_etrn_syntax: String::new(),
        reply_etrn_unavailable: String::new(),
        reply_etrn_in_transaction: String::new(),
        reply_auth: s("500 Syntax error, command unrecognized"),
        reply_xclient_denied: String::new(),
        reply_xclient_in_transaction: String::new(),
        reply_unknown: s("500 Syntax error, command unrecognized"),
        reply_bad_syntax: s("500 Syntax error, command unrecognized"),
        reply_line_too_long: s("500 Syntax error, command unrecognized"),
        reply_timeout: s("421 {host} Service not available, closing transmission channel"),
        reply_too_many_errors: s("421 {host} Service not available, closing transmission channel"),
        ..postfix()
    }
}
