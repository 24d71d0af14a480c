//! The harness of the interceptor's sans-IO tests: an `InterceptorSession` driven by hand on a
//! virtual clock, its writes rendered one string per write.

#![allow(dead_code)]

#[path = "../support/virtual_clock.rs"]
mod virtual_clock;

use smtpsim::profile::InterceptorConfig;
use smtpsim::proto::interceptor::{InterceptorEvent, InterceptorSession};
use std::sync::Arc;
use std::time::Duration;

pub const BANNER: &str = "220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n";

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// `C< line` toward the client, `S> line` toward the server (one string per write, lines joined
/// by ` | `), `CLOSE client`, `CLOSE server`; notes left out.
pub fn render(event: InterceptorEvent) -> Option<String> {
    let lines = |prefix: &str, bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .split_inclusive("\r\n")
            .map(|l| format!("{prefix} {}", l.trim_end_matches("\r\n")))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    match event {
        InterceptorEvent::ToClient(b) => Some(lines("C<", &b)),
        InterceptorEvent::ToServer(b) => Some(lines("S>", &b)),
        InterceptorEvent::Note(_) => None,
        InterceptorEvent::CloseClient => Some("CLOSE client".into()),
        InterceptorEvent::CloseServer => Some("CLOSE server".into()),
        InterceptorEvent::Blind => Some("BLIND".into()),
        InterceptorEvent::TlsToServer => Some("TLS server".into()),
        InterceptorEvent::TlsToClient => Some("TLS client".into()),
    }
}

pub struct Drive {
    pub session: InterceptorSession,
    pub now: Duration,
}

impl Drive {
    pub fn new(preset: &str) -> Drive {
        Drive::with(InterceptorConfig::preset(preset).unwrap())
    }

    /// A session under `cfg` (a preset with knobs changed).
    pub fn with(cfg: InterceptorConfig) -> Drive {
        let cfg = Arc::new(cfg);
        Drive {
            session: InterceptorSession::new(cfg, Duration::ZERO),
            now: Duration::ZERO,
        }
    }

    /// Every event due up to `until`, with its time (timers fired on the way).
    pub fn run_until(&mut self, until: Duration) -> Vec<(Duration, String)> {
        virtual_clock::settle_until(&mut self.session, &mut self.now, until, |_, e| render(e))
    }

    pub fn settle(&mut self) -> Vec<String> {
        let now = self.now;
        self.run_until(now).into_iter().map(|(_, e)| e).collect()
    }

    pub fn client_sends(&mut self, bytes: &str) -> Vec<String> {
        self.session.handle_client_input(self.now, bytes.as_bytes());
        self.settle()
    }

    pub fn server_sends(&mut self, bytes: &str) -> Vec<String> {
        self.session.handle_server_input(self.now, bytes.as_bytes());
        self.settle()
    }

    /// Banner, HELO and the envelope, relayed both ways.
    pub fn envelope(&mut self) {
        assert_eq!(self.server_sends(BANNER).len(), 1);
        assert_eq!(
            self.client_sends("HELO ws1.example.org\r\n"),
            ["S> HELO ws1.example.org"]
        );
        assert_eq!(
            self.server_sends("250 mail.example.org\r\n"),
            ["C< 250 mail.example.org"]
        );
        assert_eq!(
            self.client_sends("MAIL FROM:<alice@example.org>\r\n"),
            ["S> MAIL FROM:<alice@example.org>"]
        );
        self.server_sends("250 2.1.0 Ok\r\n");
        assert_eq!(
            self.client_sends("RCPT TO:<bob@example.org>\r\n"),
            ["S> RCPT TO:<bob@example.org>"]
        );
        self.server_sends("250 2.1.5 Ok\r\n");
    }
}
