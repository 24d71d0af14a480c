//! A pcap file of every leg: the simulated (or live) addresses, virtual timestamps from the
//! fixed epoch, a TCP handshake per connection, one segment per write (split at 1460 bytes),
//! sequence and acknowledgement numbers, FIN at a close and RST at a reset, so Wireshark's
//! SMTP dissector reads the conversation. Link type: raw IPv4 (228).

use crate::transcript::{Event, EventKind};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

const MSS: usize = 1460;
const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

struct Side {
    addr: SocketAddrV4,
    role: String,
    next_seq: u32,
}

struct Conn {
    a: Side,
    b: Side,
    ip_id: u16,
}

struct Writer {
    out: Vec<u8>,
    epoch_secs: u64,
    /// Keeps packets at one instant in order: each gets one more microsecond.
    last_us: u128,
}

impl Writer {
    fn new() -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&228u32.to_le_bytes());
        Writer {
            out,
            epoch_secs: crate::sim::EPOCH_SECS,
            last_us: 0,
        }
    }

    fn packet(&mut self, at_us: u128, conn: &mut Conn, from_a: bool, flags: u8, payload: &[u8]) {
        let at_us = at_us.max(self.last_us + 1);
        self.last_us = at_us;
        let (src, dst) = if from_a {
            (&conn.a, &conn.b)
        } else {
            (&conn.b, &conn.a)
        };
        let seq = src.next_seq;
        let ack = if flags & ACK != 0 { dst.next_seq } else { 0 };
        let tcp = tcp_segment(src.addr, dst.addr, seq, ack, flags, payload);
        conn.ip_id = conn.ip_id.wrapping_add(1);
        let ip = ipv4_packet(*src.addr.ip(), *dst.addr.ip(), conn.ip_id, &tcp);
        let secs = self.epoch_secs + (at_us / 1_000_000) as u64;
        self.out.extend_from_slice(&(secs as u32).to_le_bytes());
        self.out
            .extend_from_slice(&((at_us % 1_000_000) as u32).to_le_bytes());
        self.out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&ip);
        let consumed = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        let src = if from_a { &mut conn.a } else { &mut conn.b };
        src.next_seq = src.next_seq.wrapping_add(consumed);
    }
}

fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn tcp_segment(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&src.port().to_be_bytes());
    tcp.extend_from_slice(&dst.port().to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.push(5 << 4);
    tcp.push(flags);
    tcp.extend_from_slice(&65535u16.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src.ip().octets());
    pseudo.extend_from_slice(&dst.ip().octets());
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    let sum = checksum(&[&pseudo, &tcp]);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    tcp
}

fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, id: u16, tcp: &[u8]) -> Vec<u8> {
    let mut ip = Vec::with_capacity(20 + tcp.len());
    ip.push(0x45);
    ip.push(0);
    ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes());
    ip.extend_from_slice(&0x4000u16.to_be_bytes());
    ip.push(64);
    ip.push(6);
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(tcp);
    ip
}

/// The capture of `events`; `endpoints` gives each connection's (initiator, acceptor) addresses.
pub fn render(events: &[Event], endpoints: &BTreeMap<u32, (String, String)>) -> Vec<u8> {
    let mut writer = Writer::new();
    // Directions with writes recorded by the writer itself; reads are used for the others
    // (a live log holds only one side's view).
    let written: BTreeSet<(u32, &str)> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Data(_)))
        .map(|e| (e.conn, e.from.as_str()))
        .collect();
    let mut conns: BTreeMap<u32, Conn> = BTreeMap::new();
    for e in events {
        let at = e.at.as_micros();
        match &e.kind {
            EventKind::Connect => {
                let Some((a, b)) = endpoints.get(&e.conn) else {
                    continue;
                };
                let (Ok(a), Ok(b)) = (a.parse::<SocketAddrV4>(), b.parse::<SocketAddrV4>()) else {
                    continue;
                };
                // Deterministic initial sequence numbers.
                let isn = 1_000_000 * e.conn;
                let mut conn = Conn {
                    a: Side {
                        addr: a,
                        role: e.from.clone(),
                        next_seq: isn,
                    },
                    b: Side {
                        addr: b,
                        role: e.to.clone(),
                        next_seq: isn + 500_000,
                    },
                    ip_id: 0,
                };
                writer.packet(at, &mut conn, true, SYN, &[]);
                writer.packet(at, &mut conn, false, SYN | ACK, &[]);
                writer.packet(at, &mut conn, true, ACK, &[]);
                conns.insert(e.conn, conn);
            }
            EventKind::Data(bytes) | EventKind::Received(bytes) => {
                let Some(conn) = conns.get_mut(&e.conn) else {
                    continue;
                };
                let is_read = matches!(e.kind, EventKind::Received(_));
                if is_read && written.contains(&(e.conn, e.from.as_str())) {
                    continue;
                }
                let from_a = conn.a.role == e.from;
                for chunk in bytes.chunks(MSS) {
                    writer.packet(at, conn, from_a, PSH | ACK, chunk);
                }
            }
            EventKind::Close => {
                if let Some(conn) = conns.get_mut(&e.conn) {
                    let from_a = conn.a.role == e.from;
                    writer.packet(at, conn, from_a, FIN | ACK, &[]);
                }
            }
            EventKind::Reset(_) => {
                if let Some(conn) = conns.get_mut(&e.conn) {
                    let from_a = conn.a.role == e.from;
                    writer.packet(at, conn, from_a, RST | ACK, &[]);
                }
            }
            _ => {}
        }
    }
    writer.out
}
