//! Client presets: how a sending program (or a person at a telnet prompt) behaves, from the
//! greeting it sends to its timeouts. The messages themselves come from the scenario.

use crate::knobs::unknown_preset;
use crate::proto::client::{ClientConfig, Farewell, Greeting, RetrySchedule, Stamp, TlsPolicy};
use crate::proto::dur::Dur;

/// `(name, one-line description)` of every client preset. Each line says what was measured
/// against the real program (Debian 12's packages, on loopback against `smtpsim serve`) and
/// what is assumed; the presets' code says it knob by knob.
pub const PRESETS: &[(&str, &str)] = &[
    ("ssmtp", "ssmtp 2.64 (measured): HELO, lock-step, the content a line per write, 1 s pause, '.' alone; adds Received/From/Date; any refusal (one recipient too) closes without QUIT; no queue"),
    ("msmtp", "msmtp 1.8.23 (measured): EHLO (HELO after a refusal), MAIL/RCPT/DATA pipelined as separate writes, a line per write; a refused recipient fails the message, closes without QUIT; adds From/Date/Message-ID where missing; no queue"),
    ("smtplib", "Python 3.11 smtplib sendmail() (measured): lower-case verbs, size=, lock-step, HELO fallback; refused recipients reported, the rest delivered; RSET then QUIT after a failure; no queue"),
    ("swaks", "swaks 20201014 with --data (measured): EHLO (HELO after a refusal), lock-step, an empty line added before '.', refused recipients skipped, QUIT after a failure, 30 s timeouts read as refusals (the late reply then answers the next command); no queue"),
    ("nullmailer", "nullmailer 2.2's smtp module (measured): HELO, lock-step, QUIT after any error, no retry of its own (nullmailer-send's queue is not modelled)"),
    ("telnet", "a person typing at a telnet prompt: every line typed after a delay, body line by line (assumed)"),
    ("bare-helo", "the origin case's closed-source client: HELO with no name, gives up (QUIT) on any error (from the origin case)"),
    ("rfc821", "RFC 821's example sender: on a refused RCPT it sends RSET, then QUIT (from RFC 821 appendix)"),
    ("postfix-queue", "Postfix 3.7.11 smtp + qmgr (measured): EHLO, may-TLS, MAIL SIZE=/RCPT ORCPT=/DATA pipelined, QUIT after '.', RSET+QUIT on a failure, 4xx recipients kept queued; retries at queue scans, bounce after 5 days"),
    ("postfix-cached", "postfix-queue with smtp_connection_cache_destinations (measured): a connection kept 2 s, RSET probe before each reused MAIL, an expired one closed without QUIT"),
    ("pipelining", "a generic ESMTP client that pipelines MAIL, RCPT and DATA in one write; no queue (assumed; msmtp is the measured pipelining client)"),
    ("exchange", "Microsoft Exchange sending: EHLO, the message as one pipelined BDAT LAST when CHUNKING is offered (DATA otherwise), QUIT after a timeout (partly documented, partly assumed)"),
    ("script", "replays the writes recorded from a real client by `smtpsim serve --record` ([[client.step]])"),
];

/// A read timeout long enough to stand for "none": msmtp's default `timeout off` and
/// smtplib's blocking socket wait as long as the operating system lets them.
const NO_TIMEOUT: Dur = Dur::secs(24 * 3600);

impl ClientConfig {
    /// A preset by name.
    pub fn preset(name: &str) -> Result<ClientConfig, String> {
        let base = rfc5321();
        Ok(match name {
            // Measured (ssmtp 2.64-11, strace and serve's transcript): HELO with the
            // configured hostname; one write per command, one per content line, then
            // clock_nanosleep(1 s) and `.\r\n` alone; a Received line and, where missing,
            // From and Date headers; any 4xx/5xx at any stage (one recipient of two
            // included) closes without RSET or QUIT, exit 1, no retry; alarm() timeouts of
            // 600 s to connect, 300 s per command and 600 s after '.'.
            "ssmtp" => ClientConfig {
                greeting: Greeting::Helo,
                write_per_line: true,
                dot_delay: Dur::secs(1),
                stamp: Stamp::Ssmtp,
                abort_on_rcpt_reject: true,
                on_failure: Farewell::Close,
                retries: 0,
                timeout_connect: Dur::secs(600),
                timeout_data_init: Dur::secs(300),
                ..base
            },
            // Measured (msmtp 1.8.23-1): EHLO with the `domain` setting; after EHLO is
            // refused (554 or 451) HELO; with PIPELINING, MAIL, each RCPT and DATA as
            // separate send()s before any reply is read; the content a send() per line and
            // '.' on its own without a pause; a refused recipient: reads the replies owed
            // (the 354 too), closes without the content and without QUIT, exit 69 (4xx) or
            // 65 (5xx); no retry; STARTTLS only with `tls on`; Date and Message-ID (and From)
            // added at the top where the content has none (the client diff's content
            // comparison). Assumed: `timeout off` (its default) as no timeout.
            "msmtp" => ClientConfig {
                greeting: Greeting::Ehlo,
                fall_back_to_helo: true,
                pipelining: true,
                pipeline_separate_writes: true,
                write_per_line: true,
                abort_on_rcpt_reject: true,
                on_failure: Farewell::Close,
                stamp: Stamp::Msmtp,
                retries: 0,
                ..no_timeouts(base)
            },
            // Measured (Python 3.11 smtplib, `SMTP.sendmail()` in a `with` block): `ehlo`,
            // `mail FROM:<..> size=N` (SIZE offered), `rcpt TO:<..>`, `data` in lower case,
            // one at a time; HELO after a refused EHLO; the content and '.' in one send;
            // refused recipients are returned to the caller and the rest delivered; a
            // refused MAIL, every recipient refused or a refusal after '.': RSET, then the
            // caller's QUIT; a refused DATA: QUIT; no retry. Assumed: no timeout given.
            "smtplib" => ClientConfig {
                greeting: Greeting::Ehlo,
                fall_back_to_helo: true,
                lowercase_verbs: true,
                mail_size: true,
                on_failure: Farewell::RsetQuit,
                retries: 0,
                ..no_timeouts(base)
            },
            // Measured (swaks 20201014.0, `--data FILE`, strace and serve's transcript): EHLO
            // and, when it is refused, HELO (its source: do_smtp_helo); one command per write
            // and reply, no pipelining without --pipeline; the content in one write with an
            // empty line of its own before '.'; a refused recipient skipped, the rest sent
            // (exit 24 only when none is left); QUIT after any failure (do_smtp_quit);
            // --timeout's default of 30 s for every reply. A timeout is read as a refusal of
            // that command (transact() takes the timeout text for the reply, which does not
            // match the expected code): HELO after an EHLO timeout, the next recipient after
            // a RCPT timeout, QUIT otherwise; the late reply is then read as the next
            // command's (the client diff: EHLO or RCPT delayed past --timeout). After a
            // timeout on '.', QUIT (do_smtp_quit) and exit; no retry.
            "swaks" => ClientConfig {
                greeting: Greeting::Ehlo,
                fall_back_to_helo: true,
                quit_on_timeout: true,
                timeout_is_refusal: true,
                stamp: Stamp::Swaks,
                retries: 0,
                timeout_greeting: Dur::secs(30),
                timeout_helo: Dur::secs(30),
                timeout_mail: Dur::secs(30),
                timeout_rcpt: Dur::secs(30),
                timeout_data_init: Dur::secs(30),
                timeout_data_done: Dur::secs(30),
                timeout_rset: Dur::secs(30),
                timeout_quit: Dur::secs(30),
                ..base
            },
            // Measured (nullmailer 2.2-4, its `smtp` protocol module alone): HELO, lock-step,
            // QUIT after any error (exit 16 for a 451 at HELO, RCPT, DATA or after '.', 11
            // when the reply after '.' is lost). Assumed: a refused recipient fails the
            // message; the content in one write; nullmailer-send's queue (its retries) is
            // not modelled, so no retry.
            "nullmailer" => ClientConfig {
                greeting: Greeting::Helo,
                abort_on_rcpt_reject: true,
                retries: 0,
                ..base
            },
            // A person does not retry on their own; a program that gives up does not either.
            "telnet" => ClientConfig {
                greeting: Greeting::Helo,
                line_delay: Dur::secs(3),
                dot_in_own_write: true,
                retries: 0,
                ..base
            },
            "bare-helo" => ClientConfig {
                greeting: Greeting::Helo,
                helo_name: String::new(),
                retries: 0,
                ..base
            },
            "rfc821" => ClientConfig {
                greeting: Greeting::Helo,
                helo_name: "ISI-VAXA.ARPA".into(),
                abort_on_rcpt_reject: true,
                on_failure: Farewell::RsetQuit,
                ..base
            },
            // Measured (Postfix 3.7.11, relayhost = serve, Debian's main.cf): `EHLO
            // $myhostname`; STARTTLS when offered (smtp_tls_security_level = may);
            // `MAIL FROM:<..> SIZE=n` and `RCPT TO:<..> ORCPT=rfc822;..` with MAIL, RCPT and
            // DATA pipelined in one group and QUIT pipelined straight after '.'; EHLO
            // refused (451 or 554): HELO at once; a 4xx at MAIL, RCPT or DATA: RSET and QUIT
            // in one write, deferred; a 4xx to one recipient of two: the other delivered,
            // the refused one kept queued and delivered on the retry; the reply to '.' lost:
            // deferred and retried (two copies, RFC 1047); one connection per message
            // without a cache; a 5xx greeting deferred, not bounced (smtp_skip_5xx_greeting =
            // yes), and delivered on the retry. Postfix's defaults (postconf): smtp_*_timeout,
            // queue_run_delay, minimal/maximal_backoff_time, maximal_queue_lifetime.
            // Not modelled: a backlog goes out on parallel connections (here one at a time);
            // measured 2026-12-05, 7 messages released at once took 5 connections, two of
            // them reused on demand with a RSET probe (docs/fidelity.md, "Client differential").
            "postfix-queue" => ClientConfig {
                greeting: Greeting::Ehlo,
                fall_back_to_helo: true,
                pipelining: true,
                mail_size: true,
                rcpt_orcpt: true,
                quit_after_dot: true,
                on_failure: Farewell::RsetQuitPipelined,
                skip_5xx_greeting: true,
                tls: TlsPolicy::May,
                timeout_connect: Dur::secs(30),
                timeout_data_init: Dur::secs(120),
                timeout_data_done: Dur::secs(600),
                timeout_rset: Dur::secs(20),
                retry_schedule: RetrySchedule::PostfixQmgr,
                retry_backoff: Dur::secs(300),
                retry_backoff_max: Dur::secs(4000),
                stamp: Stamp::Postfix,
                ..base
            },
            // Measured (as postfix-queue, with smtp_connection_cache_destinations = serve):
            // at reuse a RSET probe and its 250 before the MAIL group (`conn_use=2,3`);
            // smtp_connection_cache_time_limit (2 s) idle, then closed without QUIT.
            "postfix-cached" => ClientConfig {
                reuse_connection: true,
                rset_probe: true,
                idle_close_without_quit: true,
                ..ClientConfig::preset("postfix-queue")?
            },
            "script" => ClientConfig { retries: 0, ..base },
            "pipelining" => ClientConfig {
                greeting: Greeting::Ehlo,
                fall_back_to_helo: true,
                pipelining: true,
                retries: 0,
                ..base
            },
            // Microsoft Exchange's transport as a sender. Documented: Exchange falls back
            // from EHLO to HELO when EHLO is refused (KB Q241892) and its own EHLO lists
            // CHUNKING and BINARYMIME (research notes §3.3). Assumed, from no Microsoft
            // document found here: as a sender it uses BDAT whenever CHUNKING is offered,
            // sends the whole message as one `BDAT n LAST` pipelined with the envelope
            // (`chunk_size` splits it), sends QUIT after a timeout (`quit_on_timeout`) and
            // sends further messages on the same connection without a RSET between them.
            // Postfix's smtp client, by contrast, never sends BDAT (only its smtpd takes it).
            "exchange" => ClientConfig {
                greeting: Greeting::Ehlo,
                helo_name: "mail1.fabrikam.com".into(),
                fall_back_to_helo: true,
                pipelining: true,
                chunking: true,
                reuse_connection: true,
                quit_on_timeout: true,
                ..base
            },
            other => return Err(unknown_preset("client", other, PRESETS)),
        })
    }
}

/// `cfg` with every reply timeout at [`NO_TIMEOUT`] (the connect timeout stays).
fn no_timeouts(cfg: ClientConfig) -> ClientConfig {
    ClientConfig {
        timeout_greeting: NO_TIMEOUT,
        timeout_helo: NO_TIMEOUT,
        timeout_mail: NO_TIMEOUT,
        timeout_rcpt: NO_TIMEOUT,
        timeout_data_init: NO_TIMEOUT,
        timeout_data_done: NO_TIMEOUT,
        timeout_rset: NO_TIMEOUT,
        timeout_quit: NO_TIMEOUT,
        ..cfg
    }
}

/// RFC 5321 §4.5.3.2 minimum timeouts, one message per connection, no typing delay.
fn rfc5321() -> ClientConfig {
    ClientConfig {
        greeting: Greeting::Ehlo,
        helo_name: "ws1.example.org".into(),
        fall_back_to_helo: false,
        pipelining: false,
        chunking: false,
        chunk_size: 0,
        reuse_connection: false,
        rset_probe: false,
        idle_limit: Dur::secs(2),
        reuse_limit: Dur::secs(300),
        line_delay: Dur::default(),
        abort_on_rcpt_reject: false,
        dot_in_own_write: false,
        write_per_line: false,
        dot_delay: Dur::default(),
        pipeline_separate_writes: false,
        lowercase_verbs: false,
        mail_size: false,
        rcpt_orcpt: false,
        quit_after_dot: false,
        on_failure: Farewell::Quit,
        idle_close_without_quit: false,
        skip_5xx_greeting: false,
        stamp: Stamp::None,
        send_quit: true,
        tls: TlsPolicy::None,
        trust_interceptor_ca: false,
        timeout_connect: Dur::secs(30),
        timeout_greeting: Dur::secs(300),
        timeout_helo: Dur::secs(300),
        timeout_mail: Dur::secs(300),
        timeout_rcpt: Dur::secs(300),
        timeout_data_init: Dur::secs(120),
        timeout_data_done: Dur::secs(600),
        timeout_rset: Dur::secs(300),
        timeout_quit: Dur::secs(300),
        retries: 4,
        retry_backoff: Dur::secs(60),
        retry_backoff_max: Dur::secs(600),
        quit_on_timeout: false,
        timeout_is_refusal: false,
        retry_schedule: RetrySchedule::Doubling,
        queue_run_delay: Dur::secs(300),
        queue_lifetime: Dur::secs(5 * 24 * 3600),
    }
}
