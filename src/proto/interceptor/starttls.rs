//! STARTTLS through the interceptor: refused, relayed (the connection turns into a blind byte
//! relay once the server says 220), relayed with commands injected after it, or intercepted
//! (TLS ended on both legs, everything read in clear); under `starttls = "unaware"` it is relayed
//! as any command and nothing follows it.

use super::{InterceptorEvent, InterceptorSession, Origin, StartTls};
use crate::proto::command::Verb;
use crate::proto::line::Line;
use crate::proto::reply::Reply;
use crate::proto::Time;

impl InterceptorSession {
    /// The server leg's TLS handshake (`TlsToServer`) ended: on success the server's 220 goes
    /// to the client and the client leg's handshake follows; on failure both legs close.
    pub fn handle_server_tls(&mut self, now: Time, result: Result<(), String>) {
        let Some(ready) = self.intercepting.take() else {
            return;
        };
        match result {
            Ok(()) => {
                self.push(now, InterceptorEvent::ToClient(ready.to_wire()));
                self.push(now, InterceptorEvent::TlsToClient);
            }
            // The driver has said why in the transcript.
            Err(_) => self.close_both(now),
        }
    }

    /// The client leg's TLS handshake (`TlsToClient`) ended.
    pub fn handle_client_tls(&mut self, now: Time, result: Result<(), String>) {
        match result {
            Ok(()) => self.note(
                now,
                "TLS intercepted: the client's session ends here, under the interceptor's own \
                 certificate; everything is read in clear"
                    .into(),
            ),
            Err(_) => self.close_both(now),
        }
    }

    /// The client's STARTTLS under the `starttls` knob; true if it is dealt with (refused
    /// here), false to relay it (with any injected commands after it).
    pub(super) fn starttls(&mut self, now: Time, line: &Line, relay: &mut Vec<u8>) -> bool {
        if self.cfg.starttls == StartTls::Refuse {
            self.flush_relay(now, relay);
            self.note(now, "STARTTLS refused by the interceptor".into());
            let reply = Reply::from_template(&self.cfg.starttls_refusal)
                .unwrap_or_else(|| Reply::new(454, "TLS not available"));
            self.push(now, InterceptorEvent::ToClient(reply.to_wire()));
            return true;
        }
        if self.cfg.starttls == StartTls::Relay && !self.cfg.inject_after_starttls.is_empty() {
            relay.extend_from_slice(&line.wire());
            self.upstream.push_back(Origin::Client {
                verb: Verb::StartTls,
                rewritten: false,
                rcpt_line: None,
            });
            let mut injected = Vec::new();
            for command in &self.cfg.inject_after_starttls {
                injected.extend_from_slice(command.as_bytes());
                injected.extend_from_slice(b"\r\n");
                self.upstream.push_back(Origin::Own("injected"));
            }
            relay.extend_from_slice(&injected);
            self.note(
                now,
                format!(
                    "injected after STARTTLS, in plaintext: {}",
                    self.cfg.inject_after_starttls.join(" | ")
                ),
            );
            return true;
        }
        false
    }

    /// The server said 220 to a relayed STARTTLS: either the connection goes blind (relay)
    /// or the interceptor starts TLS toward the server itself (intercept).
    pub(super) fn server_ready_for_tls(&mut self, now: Time, reply: Reply, relay: &mut Vec<u8>) {
        let pending = self.from_client.take_raw(usize::MAX);
        if self.cfg.starttls == StartTls::Intercept {
            if !pending.is_empty() {
                self.note(
                    now,
                    format!("{} bytes sent after STARTTLS discarded", pending.len()),
                );
            }
            if !relay.is_empty() {
                self.push(now, InterceptorEvent::ToClient(std::mem::take(relay)));
            }
            self.upstream.clear();
            self.intercepting = Some(reply);
            self.push(now, InterceptorEvent::TlsToServer);
            return;
        }
        relay.extend_from_slice(&reply.to_wire());
        self.push(now, InterceptorEvent::ToClient(std::mem::take(relay)));
        self.note(
            now,
            "TLS passed through unscanned: the rest of this connection is encrypted end to end"
                .into(),
        );
        self.blind = true;
        self.upstream.clear();
        self.push(now, InterceptorEvent::Blind);
        if !pending.is_empty() {
            self.push(now, InterceptorEvent::ToServer(pending));
        }
        let rest = self.from_server.take_raw();
        if !rest.is_empty() {
            self.push(now, InterceptorEvent::ToClient(rest));
        }
    }
}
