//! The interceptor session fed arbitrary bytes from both sides, closes and time, under every
//! interceptor preset. Invariants: no panic; nothing goes to a side after the interceptor
//! closed it (a side's own EOF is a half-close: replies may still go to it); a timeout always moves the session on (a deadline that stays
//! put would make a driver spin).
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtpsim::profile::InterceptorConfig;
use smtpsim::proto::interceptor::{InterceptorEvent, InterceptorSession};
use smtpsim::proto::Time;
use std::sync::Arc;

const PRESETS: [&str; 12] = [
    "passthrough",
    "symantec-telnet",
    "symantec-rset",
    "pix-mailguard",
    "asa-esmtp",
    "norton-av",
    "mail-shield-early-ack",
    "untangle",
    "fortigate-splice",
    "symantec-mail-security",
    "stormshield",
    "mail-shield-tagging",
];

#[derive(Arbitrary, Debug)]
enum Op {
    Client(Vec<u8>),
    Server(Vec<u8>),
    /// A canned client line.
    ClientCanned(u8),
    /// A canned server reply.
    ServerCanned(u8),
    ClientEof,
    ServerEof,
    /// Tenths of a second.
    Wait(u16),
}

const CLIENT: [&[u8]; 9] = [
    b"EHLO c.example\r\n",
    b"HELO c.example\r\n",
    b"MAIL FROM:<a@example.org>\r\n",
    b"RCPT TO:<b@example.org>\r\n",
    b"DATA\r\n",
    b"Subject: x\r\n\r\nbody\r\n",
    b".\r\n",
    b"QUIT\r\n",
    b"\r\n.",
];

const SERVER: [&[u8]; 8] = [
    b"220 mail.example.org ESMTP\r\n",
    b"250-mail.example.org\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
    b"250 2.1.0 Ok\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 Ok: queued as 1\r\n",
    b"221 2.0.0 Bye\r\n",
    b"421 4.4.2 timeout\r\n",
    b"550 5.1.1 no\r\n",
];

#[derive(Arbitrary, Debug)]
struct Input {
    preset: u8,
    ops: Vec<Op>,
}

struct Sides {
    /// The interceptor closed the connection to the client.
    client_closed: bool,
    /// The interceptor closed the connection to the server.
    server_closed: bool,
    /// The client sent its EOF (or was closed): no more input from it.
    client_eof: bool,
    /// The server sent its EOF (or was closed).
    server_eof: bool,
}

impl Sides {
    fn drain(&mut self, session: &mut InterceptorSession, now: Time) {
        for _ in 0..100_000 {
            let Some(event) = session.poll_event(now) else {
                return;
            };
            match event {
                InterceptorEvent::ToClient(_) => {
                    assert!(!self.client_closed, "write to a closed client")
                }
                InterceptorEvent::ToServer(_) => {
                    assert!(!self.server_closed, "write to a closed server")
                }
                InterceptorEvent::CloseClient => {
                    self.client_closed = true;
                    self.client_eof = true;
                }
                InterceptorEvent::CloseServer => {
                    self.server_closed = true;
                    self.server_eof = true;
                }
                InterceptorEvent::Note(_) | InterceptorEvent::Blind => {}
                // Handshakes succeed at once: the session goes on reading in clear.
                InterceptorEvent::TlsToServer => session.handle_server_tls(now, Ok(())),
                InterceptorEvent::TlsToClient => session.handle_client_tls(now, Ok(())),
            }
        }
        panic!("endless events");
    }
}

fuzz_target!(|input: Input| {
    let name = PRESETS[usize::from(input.preset) % PRESETS.len()];
    let cfg = Arc::new(InterceptorConfig::preset(name).unwrap());
    let mut now = Time::ZERO;
    let mut session = InterceptorSession::new(cfg, now);
    let mut sides = Sides {
        client_closed: false,
        server_closed: false,
        client_eof: false,
        server_eof: false,
    };
    for op in input.ops.iter().take(200) {
        match op {
            Op::Client(b) if !sides.client_eof => session.handle_client_input(now, b),
            Op::Server(b) if !sides.server_eof => session.handle_server_input(now, b),
            Op::ClientCanned(i) if !sides.client_eof => {
                session.handle_client_input(now, CLIENT[usize::from(*i) % CLIENT.len()])
            }
            Op::ServerCanned(i) if !sides.server_eof => {
                session.handle_server_input(now, SERVER[usize::from(*i) % SERVER.len()])
            }
            Op::ClientEof if !sides.client_eof => {
                sides.client_eof = true;
                session.handle_client_eof(now);
            }
            Op::ServerEof if !sides.server_eof => {
                sides.server_eof = true;
                session.handle_server_eof(now);
            }
            Op::Wait(tenths) => {
                let until = now + Time::from_millis(u64::from(*tenths) * 100);
                let mut both = (&mut session, &mut sides);
                smtpsim_fuzz::wait(
                    &mut both,
                    &mut now,
                    until,
                    |(s, _)| s.poll_timeout(),
                    |(s, sides), at| {
                        s.handle_timeout(at);
                        sides.drain(s, at);
                    },
                );
            }
            _ => {}
        }
        sides.drain(&mut session, now);
    }
});
