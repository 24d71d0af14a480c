//! The client session fed arbitrary replies, closes and time, under every client preset.
//! Invariants: no panic; each message gets at most one outcome, and every one has exactly one
//! once the session is closed; nothing is sent after the close; a timeout always moves the
//! session on (a deadline that stays put would make a driver spin).
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtpsim::profile::ClientConfig;
use smtpsim::proto::client::{ClientEvent, ClientProtocol, ClientSession, Message};
use smtpsim::proto::Time;
use std::sync::Arc;

const PRESETS: [&str; 8] = [
    "ssmtp",
    "telnet",
    "bare-helo",
    "rfc821",
    "postfix-cached",
    "pipelining",
    "postfix-queue",
    "exchange",
];

const REPLIES: [&[u8]; 12] = [
    b"220 mail.example.org ESMTP\r\n",
    b"250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 100\r\n250 8BITMIME\r\n",
    b"250 2.1.0 Ok\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 Ok: queued as 1\r\n",
    b"221 2.0.0 Bye\r\n",
    b"421 4.4.2 timeout\r\n",
    b"550 5.1.1 no\r\n",
    b"451 4.3.0 later\r\n",
    b"501 5.5.4 Syntax\r\n",
    b"250-mail.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
    b"250 2.0.0 Ok: 10 bytes\r\n",
];

#[derive(Arbitrary, Debug)]
enum Op {
    Bytes(Vec<u8>),
    Canned(u8),
    Eof,
    /// Tenths of a second.
    Wait(u16),
}

#[derive(Arbitrary, Debug)]
struct Input {
    preset: u8,
    /// Recipients per message (at most 3 messages).
    messages: Vec<u8>,
    body: Vec<u8>,
    ops: Vec<Op>,
}

struct Seen {
    outcomes: Vec<u32>,
    closed: bool,
}

impl Seen {
    fn drain(&mut self, session: &mut ClientSession, now: Time) {
        for _ in 0..100_000 {
            match session.poll_event(now) {
                None => return,
                Some(ClientEvent::Send(_)) => assert!(!self.closed, "sent after close"),
                Some(ClientEvent::Outcome(o)) => {
                    self.outcomes[o.id] += 1;
                    assert_eq!(self.outcomes[o.id], 1, "second outcome: {o:?}");
                }
                Some(ClientEvent::Close) => self.closed = true,
                Some(ClientEvent::Note(_)) => {}
                // No TLS here: every handshake fails (the session must still decide each message).
                Some(ClientEvent::StartTls) => session.handle_tls(now, Err("fuzz".into())),
            }
        }
        panic!("endless events");
    }
}

fuzz_target!(|input: Input| {
    let name = PRESETS[usize::from(input.preset) % PRESETS.len()];
    let cfg = Arc::new(ClientConfig::preset(name).unwrap());
    let messages: Vec<Message> = input
        .messages
        .iter()
        .take(3)
        .enumerate()
        .map(|(id, &n)| Message {
            id,
            from: "a@example.org".into(),
            to: (0..n % 4).map(|i| format!("r{i}@example.org")).collect(),
            body: input.body.clone(),
            at: Time::from_secs(u64::from(n / 4)),
        })
        .collect();
    let count = messages.len();
    let mut now = Time::ZERO;
    let mut session = ClientSession::new(cfg, messages, now);
    let mut seen = Seen {
        outcomes: vec![0; count],
        closed: false,
    };
    for op in input.ops.iter().take(200) {
        match op {
            Op::Bytes(b) => session.handle_input(now, b),
            Op::Canned(i) => session.handle_input(now, REPLIES[usize::from(*i) % REPLIES.len()]),
            Op::Eof => session.handle_eof(now, "closed"),
            Op::Wait(tenths) => {
                let until = now + Time::from_millis(u64::from(*tenths) * 100);
                let mut both = (&mut session, &mut seen);
                smtpsim_fuzz::wait(
                    &mut both,
                    &mut now,
                    until,
                    |(s, _)| s.poll_timeout(),
                    |(s, seen), at| {
                        s.handle_timeout(at);
                        seen.drain(s, at);
                    },
                );
            }
        }
        seen.drain(&mut session, now);
        if session.is_closed() {
            // Events decided at the close may be due a little later (a typist's delay).
            now += Time::from_secs(3600);
            seen.drain(&mut session, now);
            assert!(seen.closed);
            assert!(seen.outcomes.iter().all(|&n| n == 1), "{:?}", seen.outcomes);
            break;
        }
    }
});
