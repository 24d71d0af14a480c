//! A pcap file of the simulated packets themselves, as each left its host: the handshakes,
//! every data segment with its real sequence and acknowledgement numbers, retransmissions,
//! pure ACKs, FIN and RST, at virtual timestamps from the fixed epoch. Packets the network then
//! lost or held are in the capture too (it is taken where they leave, as on the sender's
//! interface). Link type: raw IPv4 (228).

use crate::sim::network::Captured;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use turmoil_net::Transport;

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

struct Writer {
    out: Vec<u8>,
    epoch_secs: u64,
    /// Keeps packets of one instant in order: each gets one more microsecond.
    last_us: u128,
    ip_id: u16,
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
            ip_id: 0,
        }
    }

    fn record(&mut self, at_us: u128, ip: &[u8]) {
        let at_us = at_us.max(self.last_us + 1);
        self.last_us = at_us;
        let secs = self.epoch_secs + (at_us / 1_000_000) as u64;
        self.out.extend_from_slice(&(secs as u32).to_le_bytes());
        self.out
            .extend_from_slice(&((at_us % 1_000_000) as u32).to_le_bytes());
        self.out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.out.extend_from_slice(ip);
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

struct Segment<'a> {
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    payload: &'a [u8],
}

fn tcp_segment(seg: &Segment<'_>) -> Vec<u8> {
    let Segment {
        src,
        dst,
        seq,
        ack,
        flags,
        window,
        payload,
    } = *seg;
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&src.port().to_be_bytes());
    tcp.extend_from_slice(&dst.port().to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.push(5 << 4);
    tcp.push(flags);
    tcp.extend_from_slice(&window.to_be_bytes());
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

fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, id: u16, ttl: u8, tcp: &[u8]) -> Vec<u8> {
    let mut ip = Vec::with_capacity(20 + tcp.len());
    ip.push(0x45);
    ip.push(0);
    ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes());
    ip.extend_from_slice(&0x4000u16.to_be_bytes());
    ip.push(ttl);
    ip.push(6);
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(tcp);
    ip
}

/// The capture of `packets` (see [`crate::sim::run_captured`]).
pub fn render(packets: &[Captured]) -> Vec<u8> {
    let mut writer = Writer::new();
    for captured in packets {
        let pkt = &captured.packet;
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (pkt.src, pkt.dst) else {
            continue;
        };
        let Transport::Tcp(seg) = &pkt.payload else {
            continue;
        };
        let f = seg.flags;
        let flags = [
            (f.syn, SYN),
            (f.fin, FIN),
            (f.rst, RST),
            (f.psh || !seg.payload.is_empty(), PSH),
            (f.ack, ACK),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0u8, |acc, (_, bit)| acc | bit);
        let tcp = tcp_segment(&Segment {
            src: SocketAddrV4::new(src, seg.src_port),
            dst: SocketAddrV4::new(dst, seg.dst_port),
            seq: seg.seq,
            ack: seg.ack,
            flags,
            window: seg.window,
            payload: &seg.payload,
        });
        writer.ip_id = writer.ip_id.wrapping_add(1);
        let ip = ipv4_packet(src, dst, writer.ip_id, pkt.ttl, &tcp);
        writer.record(captured.at.as_micros(), &ip);
    }
    writer.out
}
