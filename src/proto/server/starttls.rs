//! STARTTLS (RFC 3207): where the session is with TLS and the handshake hand-over.

use super::*;

/// Where a server session is with TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tls {
    /// STARTTLS is not available (no certificate).
    Unavailable,
    /// Plaintext; STARTTLS is offered if the profile lists it.
    Plain,
    /// The 220 went out; the handshake is running.
    Handshake,
    /// Inside TLS.
    Active,
}

impl ServerSession {
    /// Whether this server can start TLS (it has a certificate). Without it STARTTLS is not
    /// offered and is answered `reply_starttls_disabled`. Sessions start with TLS available.
    pub fn set_tls_available(&mut self, available: bool) {
        if matches!(self.tls, Tls::Plain | Tls::Unavailable) {
            self.tls = if available {
                Tls::Plain
            } else {
                Tls::Unavailable
            };
        }
    }

    /// True inside TLS.
    pub fn tls_active(&self) -> bool {
        self.tls == Tls::Active
    }

    /// The handshake that [`ServerEvent::StartTls`] asked for is done: `Ok` inside TLS (the
    /// session starts over as after the banner, RFC 3207 §4.2), `Err` with why it failed
    /// (the connection is closed, as Postfix's smtpd does).
    pub fn handle_tls(&mut self, now: Time, result: Result<(), String>) {
        if self.tls != Tls::Handshake || self.is_closed() {
            return;
        }
        self.last_activity = self.last_activity.max(now);
        if let Err(why) = result {
            self.push(
                now,
                ServerEvent::Note(format!("TLS handshake failed: {why}")),
            );
            self.log_end(now, Some(maillog::LOST_CONNECTION), 0);
            self.close(now);
            return;
        }
        self.tls = Tls::Active;
        let pending = self.lines.take_raw(usize::MAX);
        if pending.is_empty() {
            return;
        }
        let executed = !self.cfg.tls_discard_pipelined;
        self.push(
            now,
            ServerEvent::Injected {
                bytes: pending.clone(),
                executed,
            },
        );
        if executed {
            self.handle_input(now, &pending);
        }
    }

    /// STARTTLS as Postfix's smtpd takes it: syntax, TLS already on, no TLS here; else 220,
    /// forget HELO and the transaction, and hand over to the handshake.
    pub(super) fn starttls(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let refusal = if !command.args.trim().is_empty() {
            &cfg.reply_starttls_syntax
        } else if self.tls == Tls::Active {
            &cfg.reply_tls_active
        } else if self.tls == Tls::Unavailable {
            if cfg.reply_starttls_disabled.is_empty() {
                &cfg.reply_unknown
            } else {
                &cfg.reply_starttls_disabled
            }
        } else {
            self.reply(now, &cfg.reply_starttls, &[]);
            self.helo = None;
            self.reset_transaction(now);
            self.tls = Tls::Handshake;
            self.push(now, ServerEvent::StartTls);
            return true;
        };
        self.reply(now, refusal, &[]);
        false
    }
}
