//! Client presets: how a sending program (or a person at a telnet prompt) behaves, from the
//! greeting it sends to its timeouts. The messages themselves come from the scenario.

use crate::knobs::unknown_preset;
use crate::proto::client::{ClientConfig, Greeting, RetrySchedule, TlsPolicy};
use crate::proto::dur::Dur;

/// `(name, one-line description)` of every client preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("ssmtp", "sSMTP-like: HELO, one message written at once, QUIT"),
    ("telnet", "a person typing at a telnet prompt: every line typed after a delay, body line by line"),
    ("bare-helo", "the origin case's closed-source client: HELO with no name, gives up (QUIT) on any error"),
    ("rfc821", "RFC 821's example sender: on a refused RCPT it sends RSET, then QUIT"),
    ("postfix-cached", "Postfix smtp (Debian) with connection caching: EHLO, opportunistic STARTTLS, PIPELINING, RSET probe before each reused MAIL"),
    ("pipelining", "an ESMTP client that pipelines MAIL, RCPT and DATA when PIPELINING is offered"),
    ("exchange", "Microsoft Exchange sending: EHLO, the message as one pipelined BDAT LAST when CHUNKING is offered (DATA otherwise), QUIT after a timeout"),
    ("postfix-queue", "Postfix's queue manager in front of its smtp client: retries at queue scans (300 s), backoff 300 s to 4000 s by time in queue, bounce after 5 days"),
    ("script", "replays the writes recorded from a real client by `smtpsim serve --record` ([[client.step]])"),
];

impl ClientConfig {
    /// A preset by name.
    pub fn preset(name: &str) -> Result<ClientConfig, String> {
        let base = rfc5321();
        Ok(match name {
            "ssmtp" => ClientConfig {
                greeting: Greeting::Helo,
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
                ..base
            },
            "postfix-cached" => ClientConfig {
                greeting: Greeting::Ehlo,
                fall_back_to_helo: true,
                pipelining: true,
                reuse_connection: true,
                rset_probe: true,
                // Debian's main.cf: smtp_tls_security_level = may.
                tls: TlsPolicy::May,
                timeout_connect: Dur::secs(30),
                timeout_data_init: Dur::secs(120),
                timeout_data_done: Dur::secs(600),
                timeout_rset: Dur::secs(20),
                ..base
            },
            // Postfix 3.7's defaults (postconf: queue_run_delay, minimal_backoff_time,
            // maximal_backoff_time, maximal_queue_lifetime).
            "postfix-queue" => ClientConfig {
                retry_schedule: RetrySchedule::PostfixQmgr,
                retry_backoff: Dur::secs(300),
                retry_backoff_max: Dur::secs(4000),
                ..ClientConfig::preset("postfix-cached")?
            },
            "script" => ClientConfig { retries: 0, ..base },
            "pipelining" => ClientConfig {
                greeting: Greeting::Ehlo,
                fall_back_to_helo: true,
                pipelining: true,
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
        retry_schedule: RetrySchedule::Doubling,
        queue_run_delay: Dur::secs(300),
        queue_lifetime: Dur::secs(5 * 24 * 3600),
    }
}
