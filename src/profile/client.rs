//! Client presets: how a sending program (or a person at a telnet prompt) behaves, from the
//! greeting it sends to its timeouts. The messages themselves come from the scenario.

use super::{knobs, unknown_preset, Dur};
use serde::{Deserialize, Serialize};

/// `(name, one-line description)` of every client preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("ssmtp", "sSMTP-like: HELO, one message written at once, QUIT"),
    ("telnet", "a person typing at a telnet prompt: every line typed after a delay, body line by line"),
    ("bare-helo", "the origin case's closed-source client: HELO with no name, gives up (QUIT) on any error"),
    ("rfc821", "RFC 821's example sender: on a refused RCPT it sends RSET, then QUIT"),
    ("postfix-cached", "Postfix smtp with connection caching: EHLO, PIPELINING, RSET probe before each reused MAIL"),
    ("pipelining", "an ESMTP client that pipelines MAIL, RCPT and DATA when PIPELINING is offered"),
    ("postfix-queue", "Postfix's queue manager in front of its smtp client: retries at queue scans (300 s), backoff 300 s to 4000 s by time in queue, bounce after 5 days"),
    ("script", "replays the writes recorded from a real client by `smtpsim serve --record` ([[client.step]])"),
];

/// The first command after the banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Greeting {
    /// `HELO name` (RFC 821).
    Helo,
    /// `EHLO name` (RFC 5321).
    Ehlo,
}

/// How the client's queue spaces its attempts at a deferred message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetrySchedule {
    /// Wait `retry_backoff`, doubled per attempt up to `retry_backoff_max`; at most `retries`
    /// further attempts.
    Doubling,
    /// Postfix's qmgr: the wait is the message's time in the queue, clamped to
    /// `retry_backoff` (`minimal_backoff_time`) .. `retry_backoff_max`
    /// (`maximal_backoff_time`), and the attempt happens at the first deferred-queue scan
    /// (every `queue_run_delay`) after it; a message still deferred after `queue_lifetime`
    /// (`maximal_queue_lifetime`) bounces. `retries` is not used.
    PostfixQmgr,
}

knobs! {
    /// Everything a client session does that a scenario may change.
    pub struct ClientConfig / ClientSection {
        /// HELO or EHLO.
        pub greeting: Greeting,
        /// The name sent with HELO/EHLO; empty sends a bare `HELO`.
        pub helo_name: String,
        /// After EHLO is refused, try HELO.
        pub fall_back_to_helo: bool,
        /// Pipeline MAIL, RCPT and DATA when the server offers PIPELINING.
        pub pipelining: bool,
        /// Send further messages on the same connection.
        pub reuse_connection: bool,
        /// Before each MAIL on a reused connection, send RSET and wait for its reply.
        pub rset_probe: bool,
        /// Keep an idle connection this long for the next message.
        pub idle_limit: Dur,
        /// Never reuse a connection older than this.
        pub reuse_limit: Dur,
        /// Delay before typing each line (commands and content): a person at a keyboard.
        pub line_delay: Dur,
        /// On a refused RCPT, abort the transaction with RSET and stop (RFC 821 example).
        pub abort_on_rcpt_reject: bool,
        /// Write the final `.` in a write of its own rather than with the content.
        pub dot_in_own_write: bool,
        /// Send QUIT at the end (false: just close).
        pub send_quit: bool,
        /// Waiting for the TCP connection.
        pub timeout_connect: Dur,
        /// Waiting for the banner.
        pub timeout_greeting: Dur,
        /// Waiting for the HELO/EHLO reply.
        pub timeout_helo: Dur,
        /// Waiting for the MAIL reply.
        pub timeout_mail: Dur,
        /// Waiting for a RCPT reply.
        pub timeout_rcpt: Dur,
        /// Waiting for the 354.
        pub timeout_data_init: Dur,
        /// Waiting for the reply after the final `.`.
        pub timeout_data_done: Dur,
        /// Waiting for the RSET reply.
        pub timeout_rset: Dur,
        /// Waiting for the QUIT reply.
        pub timeout_quit: Dur,
        /// Further attempts for a deferred message (4xx, timeout, lost connection); 0: none.
        pub retries: u32,
        /// Wait before the first retry; doubles per attempt.
        pub retry_backoff: Dur,
        /// Longest wait between attempts.
        pub retry_backoff_max: Dur,
        /// After a timeout, send QUIT before closing (as Exchange does) instead of just closing.
        pub quit_on_timeout: bool,
        /// How attempts at a deferred message are spaced.
        pub retry_schedule: RetrySchedule,
        /// `postfix-qmgr`: the deferred queue is scanned this often (Postfix's `queue_run_delay`).
        pub queue_run_delay: Dur,
        /// `postfix-qmgr`: a message deferred this long after it was queued bounces (Postfix's
        /// `maximal_queue_lifetime`).
        pub queue_lifetime: Dur,
    }
    extra {
        /// The messages to send, in queue order.
        pub message: Vec<crate::scenario::MessageSpec>,
        /// For the `script` profile: the recorded writes to replay.
        pub step: Vec<crate::scenario::StepSpec>,
    }
}

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
        reuse_connection: false,
        rset_probe: false,
        idle_limit: Dur::secs(2),
        reuse_limit: Dur::secs(300),
        line_delay: Dur::default(),
        abort_on_rcpt_reject: false,
        dot_in_own_write: false,
        send_quit: true,
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
