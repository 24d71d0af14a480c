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
//! - `mail-shield-early-ack`: as the symantec presets' holding family, a BDAT passes unscanned;
//!   CHUNKING is left in the EHLO reply (assumed: the source says nothing about it).
//! - `symantec-mail-security`: CHUNKING is not in the EHLO reply and a BDAT sent anyway drops
//!   the session (documented, see the preset).
//! - `stormshield`: BDAT is on the block list and refused; CHUNKING stays in the EHLO reply
//!   (assumed: the documented "CHUNKING filtering" may also take it out; a scenario can set
//!   `strip_ehlo_keywords`).
//! - `fortigate-splice`, `mail-shield-tagging`: a BDAT chunk passes untouched and unscanned
//!   (assumed); only DATA content is scanned or changed.
//! - `norton-av`, `untangle`: relayed (`untangle`'s HELO upstream means no client learns of
//!   CHUNKING).

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
    ("norton-av", "Norton AntiVirus 2002's outbound scan (bugtraq msg03715): STARTTLS answered 500 by the scanner and never sent on, the server's 221 rewritten"),
    ("mail-shield-early-ack", "a mail shield that says 250 at '.' and relays afterwards; a later server refusal reaches only the local user (community.norton.com, Norton email protection)"),
    ("untangle", "Untangle / Arista NG Firewall (Arista article 202133828): the client's EHLO sent upstream as HELO, so no ESMTP keyword reaches the client"),
    ("fortigate-splice", "FortiGate antivirus in splice mode (Fortinet KB 10445): the body streamed to the server while scanned; on a detection the server connection is cut mid-DATA and the client refused"),
    ("symantec-mail-security", "Symantec Mail Security for SMTP 5.0.1 (joekiller.com 2007): no CHUNKING in the EHLO reply, the session dropped at a BDAT"),
    ("stormshield", "Stormshield SNS SMTP proxy (documentation.stormshield.eu, CMD lists): BDAT and STARTTLS blocked with a refusal, command and reply lines capped"),
    ("mail-shield-tagging", "a mail shield that appends a note to every sent message (Avast, ESET, Sophos; Sophos documents that it breaks DKIM)"),
    ("clamsmtp", "clamsmtp 1.10 (Debian 12; measured by smtpsim diff --interceptor with clamd 1.4.6 on a local signature database, Action drop, the other settings their defaults): proxsmtp's protocol (the same SMTP code), and a virus (block_signature) answered '250 Virus Detected; Discarded Email': the sender is told it went, RSET upstream, nothing delivered and an X-Virus-Scanned header added to what it passes (assumed: clamd's scan time, scan_delay, is negligible)"),
    ("spampd", "spampd 2.53 with SpamAssassin 4.0.1 (Debian 12; measured by smtpsim diff --interceptor, Debian's --tagall --local-only, report_safe 0): everything relayed unchanged one command at a time (lock_step), DATA relayed and the message held until '.' (hold_body), then sent with SpamAssassin's X-Spam-* headers at its top; spam (the GTUBE string) tagged with X-Spam-Flag and delivered, not refused; the server not read while a message comes in (a server timeout shows at '.' as a close with no reply); STARTTLS relayed but not followed; a multiline refusal of DATA missed"),
    ("proxsmtp", "proxsmtp 1.10 (Debian 12; measured by smtpsim diff --interceptor with a pipe FilterCommand, FilterTimeout 30, no KeepAlives/Header/XClient): own banner and EHLO name, PIPELINING/CHUNKING/STARTTLS stripped (XFILTERED in place of a stripped last line), STARTTLS and BDAT refused 502, own 354, the filter run at '.', then DATA upstream; a filter's refusal (block_signature) is answered itself and RSET upstream; its running time is scan_delay (assumed: a configuration with KeepAlives is not modelled)"),
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
            // The ASA CLI configuration guide's default ESMTP inspection map also drops the
            // connection on a command line over 512 bytes, over 100 RCPT, a header line over
            // 998 bytes or a sender over 320 (its `match ... gt N` / `drop-connection` lines).
            // Assumed: lengths count the line without CRLF, and RCPTs per transaction. Not
            // modelled: the MIME filename limit (255).
            "asa-esmtp" => InterceptorConfig {
                mask_banner: true,
                strip_ehlo_keywords: vec!["STARTTLS".into(), "CHUNKING".into()],
                max_command_line: 512,
                max_rcpt: 100,
                max_header_line: 998,
                max_sender: 320,
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
            // Norton AntiVirus 2002's outbound email scanning, as reported to bugtraq
            // (http://mail.spinics.net/lists/bugtraq/msg03715.html). Documented, with both sides
            // of the wire: STARTTLS is answered "500 Unsupported command." by the scanner and
            // never reaches the server; the server's "221 Bye" reaches the client as "221
            // Closing connection. Good bye."; the EHLO reply passes intact (STARTTLS included).
            // Assumed: nothing else is changed (the report's session has no message).
            "norton-av" => InterceptorConfig {
                starttls: StartTls::Refuse,
                starttls_refusal: "500 Unsupported command.".into(),
                quit_reply: "221 Closing connection. Good bye.".into(),
                ..base
            },
            // Norton email protection, 2011-12, as users describe it
            // (https://community.norton.com/t/problems-with-email-protection-outgoing/202202):
            // the message is acknowledged to the mail program first, and a later refusal by the
            // server (size, rate, spam) shows only as a local pop-up while the mail sits in Sent
            // Items. Assumed: the reply texts, a 2 s scan, the release at '.' (not at QUIT, as
            // symantec-telnet), no keepalives. Not modelled: "timeout protection" adding text.
            "mail-shield-early-ack" => InterceptorConfig {
                data_reply: "354 Please start mail input.".into(),
                ack_dot: "250 Message accepted for delivery".into(),
                scan_delay: Dur::secs(2),
                ..base
            },
            // Untangle / Arista NG Firewall's SMTP handling
            // (https://support.edge.arista.com/hc/en-us/articles/202133828): EHLO is rewritten to
            // HELO and the ESMTP keywords are gone (Exchange-to-Exchange mail fails). Assumed:
            // the name after EHLO is kept, and the keywords are gone because the server answered
            // a HELO (no list to strip); everything else is relayed.
            "untangle" => InterceptorConfig {
                ehlo_as_helo: true,
                ..base
            },
            // FortiGate antivirus with the splice option (Fortinet technical tip on the AV
            // scanning splice option, https://community.fortinet.com; kb.fortinet.com externalID
            // 10445): the message is streamed to the server while it is scanned; on a detection
            // the FortiGate terminates the connection to the server early and sends the sender
            // an error, so the server sees a DATA cut short. Assumed: the signature is a text
            // within one line (here the EICAR test file's name), the error text and its time
            // (at the client's '.'), and the client connection closed after it.
            "fortigate-splice" => InterceptorConfig {
                block_signature: "EICAR-STANDARD-ANTIVIRUS-TEST-FILE".into(),
                ..base
            },
            // Symantec Mail Security for SMTP 5.0.1
            // (https://joekiller.com/2007/09/19/bdat-causing-smtp-service-to-drop-email/): its
            // EHLO reply has no CHUNKING; a manual session was dropped as soon as BDAT was typed,
            // and an Exchange sender using BDAT anyway ended in "451 Timeout waiting for client
            // input". Modelled: the drop at BDAT. Assumed: the rest is relayed.
            "symantec-mail-security" => InterceptorConfig {
                strip_ehlo_keywords: vec!["CHUNKING".into()],
                blocked_commands: vec!["BDAT".into()],
                ..base
            },
            // Stormshield SNS's SMTP proxy (documentation.stormshield.eu, SNS v4 CLI serverd
            // CONFIG PROTOCOL SMTP PROFILE PROXY CMD): per-command block/pass/filter lists (the
            // example blocks BDAT and STARTTLS), caps on the command-line length (64 to 4096)
            // and on the server's reply lines. Assumed: the refusal text, a blocked command
            // refused rather than dropped, the caps' values (1024 both) and that a line over a
            // cap drops the connection.
            "stormshield" => InterceptorConfig {
                blocked_commands: vec!["BDAT".into(), "STARTTLS".into()],
                blocked_reply: "502 5.5.1 Command not allowed".into(),
                max_command_line: 1024,
                max_reply_line: 1024,
                ..base
            },
            // Avast's Mail Shield (help.avast.com, mail shield settings), ESET's email client
            // protection (ESET Smart Security user guide) and Sophos Firewall (docs.sophos.com,
            // Sophos Firewall 19.0 email general settings) add a note or tag to sent mail, in the
            // body or the subject; Sophos documents that this breaks the DKIM hash. Assumed: the
            // note's words (our own) and that it goes at the end of the body; `subject_tag` does
            // the subject form.
            "mail-shield-tagging" => InterceptorConfig {
                body_footer: "-- \nChecked for threats by the mail shield on this computer.".into(),
                ..base
            },
            // proxsmtp 1.10 (Debian 12's 1.10-4), measured by `smtpsim diff --interceptor
            // proxsmtp` with a private proxsmtpd.conf (Listen and OutAddress on 127.0.0.1,
            // FilterCommand a script in pipe mode, FilterTimeout 30, the other settings their
            // defaults: no KeepAlives, no Header, no XClient). What it showed: its own banner and
            // EHLO name (`smtp.passthru`), the ESMTP features it cannot pass (PIPELINING,
            // CHUNKING, STARTTLS, BINARYMIME, CHECKPOINT, XEXCH50) taken out of the EHLO reply
            // (`250 XFILTERED` ends the reply when its last line was one of them),
            // STARTTLS and BDAT answered `502 Command not implemented` itself, MAIL and RCPT
            // relayed as they come, DATA answered with its own 354 and the message held; at '.'
            // the filter runs, then DATA goes upstream with the (filtered) message and the
            // server's verdict reaches the client. A filter that exits non-zero: its last line
            // on stderr is the client's reply at '.', and nothing goes upstream. The filter's
            // running time is `scan_delay`; a filter's refusal is `block_signature` and
            // `detection_reply` set by the scenario.
            "proxsmtp" => InterceptorConfig {
                own_hostname: "smtp.passthru".into(),
                strip_ehlo_keywords: [
                    "PIPELINING",
                    "CHUNKING",
                    "STARTTLS",
                    "BINARYMIME",
                    "CHECKPOINT",
                    "XEXCH50",
                ]
                .map(String::from)
                .to_vec(),
                stripped_last_placeholder: "XFILTERED".into(),
                starttls: StartTls::Refuse,
                starttls_refusal: "502 Command not implemented".into(),
                blocked_commands: vec!["BDAT".into()],
                blocked_reply: "502 Command not implemented".into(),
                data_reply: "354 Start mail input; end with <CRLF>.<CRLF>".into(),
                release_on: Release::Dot,
                reset_abandoned: true,
                upstream_lost_reply: "451 Local Error".into(),
                ..base
            },
            // clamsmtp 1.10 (Debian 12's 1.10-17.2), measured by `smtpsim diff --interceptor
            // clamsmtp` with clamd 1.4.6 (Debian's clamav-daemon) in the foreground on a
            // signature database of one local .ndb signature (the official databases need the
            // network: freshclam), and a private clamsmtpd.conf (Listen, OutAddress, ClamAddress
            // a local socket, TempDirectory; Action at its default, drop). It shares proxsmtp's
            // SMTP code (smtppass): everything above, and a virus found answered `250 Virus Detected; Discarded Email` (the
            // sender is told the message went: a silent drop), RSET upstream, and the
            // `X-Virus-Scanned: ClamAV using ClamSMTP` header (its default `Header`) added at the
            // end of the header of what it passes (the differential's content comparison).
            "clamsmtp" => InterceptorConfig {
                detection_reply: "250 Virus Detected; Discarded Email".into(),
                added_header: "X-Virus-Scanned: ClamAV using ClamSMTP".into(),
                ..InterceptorConfig::preset("proxsmtp")?
            },
            // spampd 2.53 (Debian 12's 2.53-1.2) with SpamAssassin 4.0.1, measured by hand and by
            // `smtpsim diff --interceptor spampd`, started as Debian's /etc/default/spampd
            // starts it (`--tagall`, `--local-only`, 3 children) with a private SpamAssassin
            // configuration (`report_safe 0`: the headers-only markup; no Bayes). Its SMTP code
            // (SpamPD::Server and ::Client, from MSDW::SMTP) relays the banner, the EHLO reply
            // and every command unchanged, one line at a time: it reads a client line, sends it
            // upstream, reads the server's reply and writes it back before it reads the next
            // line (`lock_step`; a pipelining client's commands reach the server one by one).
            // DATA and the server's 354 are relayed; the content is held until the client's
            // '.', SpamAssassin checks it (about 0.1 s here: `scan_delay` is left at zero), and
            // the content and '.' go upstream together (`hold_body`); the server's verdict
            // reaches the client. Under --tagall every message is rewritten: SpamAssassin's
            // header fields at its top (`top_headers`; `tag_headers` when it is spam, as a
            // message with the GTUBE test string always is: score 1000), the empty lines at its
            // end dropped (`trim_trailing_blank_lines`). Spam is tagged and delivered, never
            // refused. The header values are examples (the comparison reads names only).
            // Measured by hand: after STARTTLS the client's TLS records are read as a command
            // line that never ends (`starttls = "unaware"`); a BDAT waits for a reply the
            // server never gives, its chunk unread behind it (`lock_step`: the server waits for
            // the chunk). When the server closes,
            // the client gets an empty line for the reply it is owed and for its next command,
            // and the command after closes both (`server_gone_empty_reply`); a reply the
            // server sent before it closed waits unread for the next command. A refusal of DATA
            // in several lines is missed (spampd leaves its data state only when the reply
            // matches /^[45]\d{2} /, which a multiline reply's first line does not): the
            // client's next commands are read as message content
            // (`multiline_data_refusal_missed`). Read off /usr/sbin/spampd (the loop in
            // process_request, MSDW::SMTP::Server::chat, ::Client::hear) and seen in the
            // differential.
            "spampd" => InterceptorConfig {
                lock_step: true,
                hold_body: true,
                top_headers: vec![
                    "X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-25) on localhost".into(),
                    "X-Spam-Level: ".into(),
                    "X-Spam-Status: No, score=4.2 required=5.0 tests=MISSING_DATE,MISSING_HEADERS,\n\tMISSING_MID autolearn=disabled version=4.0.1".into(),
                ],
                tag_signature: GTUBE.into(),
                tag_headers: vec![
                    "X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-25) on localhost".into(),
                    "X-Spam-Flag: YES".into(),
                    "X-Spam-Level: **************************************************".into(),
                    "X-Spam-Status: Yes, score=1004.2 required=5.0 tests=GTUBE,MISSING_DATE,\n\tMISSING_HEADERS,MISSING_MID autolearn=disabled version=4.0.1".into(),
                    "X-Spam-Report: \n\t* 1000 GTUBE BODY: Generic Test for Unsolicited Bulk Email".into(),
                ],
                trim_trailing_blank_lines: true,
                server_gone_empty_reply: true,
                multiline_data_refusal_missed: true,
                starttls: StartTls::Unaware,
                ..base
            },
            other => return Err(unknown_preset("interceptor", other, PRESETS)),
        })
    }
}

/// SpamAssassin's GTUBE test string (Generic Test for Unsolicited Bulk Email): a message with
/// it is spam whatever else it says.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

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
        own_hostname: String::new(),
        allowed_commands: Vec::new(),
        rewritten_reply: String::new(),
        strip_ehlo_keywords: Vec::new(),
        stripped_last_placeholder: String::new(),
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
        ehlo_as_helo: false,
        quit_reply: String::new(),
        blocked_commands: Vec::new(),
        blocked_reply: String::new(),
        max_command_line: 0,
        max_rcpt: 0,
        max_sender: 0,
        max_header_line: 0,
        max_reply_line: 0,
        block_signature: String::new(),
        // Not quoted from a product: RFC 3463's X.7.1, "delivery not authorized, message refused".
        detection_reply: "554 5.7.1 Message refused: a threat was found in it".into(),
        reset_abandoned: false,
        upstream_lost_reply: String::new(),
        subject_tag: String::new(),
        body_footer: String::new(),
        added_header: String::new(),
        lock_step: false,
        hold_body: false,
        top_headers: Vec::new(),
        tag_signature: String::new(),
        tag_headers: Vec::new(),
        trim_trailing_blank_lines: false,
        server_gone_empty_reply: false,
        multiline_data_refusal_missed: false,
    }
}
