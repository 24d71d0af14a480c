//! Helpers shared by the fuzz targets: a client and a server session talking to each other
//! in memory on a virtual clock, so that a configuration from a scenario file or from `--set`
//! is exercised by a whole conversation, not only parsed.

use smtpsim::profile::{ClientConfig, ServerConfig};
use smtpsim::proto::client::{ClientEvent, ClientProtocol, ClientSession, Message};
use smtpsim::proto::server::{ServerEvent, ServerSession};
use smtpsim::proto::Time;
use std::sync::Arc;

/// Steps after which a conversation is cut short (a configuration may legitimately make one
/// last for ever: keepalives, retries).
const MAX_STEPS: usize = 2_000;

/// Runs `client` with `messages` against `server` until both close (or `MAX_STEPS`), passing
/// every write straight across. Panics only if a session does.
pub fn converse(client: ClientConfig, messages: Vec<Message>, server: ServerConfig) {
    let mut now = Time::ZERO;
    let mut server = ServerSession::new(Arc::new(server), "192.0.2.1", now, 1);
    // No TLS between the two sessions: STARTTLS is not offered.
    server.set_tls_available(false);
    let mut client = ClientSession::new(Arc::new(client), messages, now);
    let (mut client_open, mut server_open) = (true, true);
    for _ in 0..MAX_STEPS {
        let mut moved = false;
        while let Some(event) = server.poll_event(now) {
            moved = true;
            match event {
                ServerEvent::Reply(reply) if client_open => {
                    client.handle_input(now, &reply.to_wire())
                }
                ServerEvent::Close if client_open => {
                    client_open = false;
                    client.handle_eof(now, "closed");
                }
                _ => {}
            }
        }
        while let Some(event) = client.poll_event(now) {
            moved = true;
            match event {
                ClientEvent::Send(bytes) if server_open => server.handle_input(now, &bytes),
                ClientEvent::Close if server_open => {
                    server_open = false;
                    server.handle_eof(now);
                }
                _ => {}
            }
        }
        if moved {
            continue;
        }
        let next = [server.poll_timeout(), client.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else {
            return;
        };
        now = now.max(next);
        server.handle_timeout(now);
        client.handle_timeout(now);
    }
}

/// `bytes` cut at `cuts` (offsets taken modulo the length, in any order): the reads a peer's
/// writes may arrive as.
pub fn chunks<'a>(bytes: &'a [u8], cuts: &[u16]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) % (bytes.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        out.push(&bytes[from..cut]);
        from = cut;
    }
    out
}

/// Lets time pass up to `until` as a driver would: at each `deadline` (one already past is due
/// at once) `fire` runs. Panics if a deadline does not move once fired: a driver would spin.
pub fn wait<S>(
    state: &mut S,
    now: &mut Time,
    until: Time,
    deadline: impl Fn(&S) -> Option<Time>,
    mut fire: impl FnMut(&mut S, Time),
) {
    while let Some(at) = deadline(state).filter(|at| *at <= until) {
        *now = (*now).max(at);
        fire(state, *now);
        if deadline(state) == Some(at) {
            panic!("the timeout at {at:?} did not move the deadline");
        }
    }
    *now = (*now).max(until);
}
