//! When TCP could next retransmit, read off the packets: lets the engine skip the milliseconds
//! in which nothing can happen instead of making an egress pass in each.
//!
//! turmoil-net retransmits when a socket has gone `threshold` egress passes without
//! acknowledgement progress. The engine makes one pass per millisecond while data is in
//! flight (catching up on skipped milliseconds with passes that send nothing), so a socket
//! whose counter started at `t0` retransmits at `t0 + threshold`. This watch keeps, per
//! direction of each connection, the highest sequence number sent, the highest acknowledged,
//! and when the counter last started (the first unacknowledged send, a retransmission, or
//! progress), and answers the earliest moment any of them could retransmit. It errs early,
//! never late: a wake-up too soon costs a turn; one too late would be caught up exactly anyway.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use turmoil_net::{Packet, Transport};

#[derive(Debug, Clone, Copy)]
struct Direction {
    /// Highest sequence number acknowledged by the peer.
    acked: u32,
    /// One past the highest sequence number sent.
    sent_to: u32,
    /// When the retransmission counter last started, if anything is unacknowledged.
    counting_since: Option<Duration>,
}

/// `a` is after `b` in sequence space.
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// The watch over every direction of every connection.
#[derive(Debug, Default)]
pub struct RetxWatch {
    directions: BTreeMap<(SocketAddr, SocketAddr), Direction>,
}

fn endpoints(pkt: &Packet) -> Option<(SocketAddr, SocketAddr, &turmoil_net::TcpSegment)> {
    match &pkt.payload {
        Transport::Tcp(seg) => Some((
            SocketAddr::new(pkt.src, seg.src_port),
            SocketAddr::new(pkt.dst, seg.dst_port),
            seg,
        )),
        Transport::Udp(_) => None,
    }
}

impl RetxWatch {
    /// `pkt` left its host at `now`.
    pub fn sent(&mut self, now: Duration, pkt: &Packet) {
        let Some((src, dst, seg)) = endpoints(pkt) else {
            return;
        };
        if seg.flags.rst {
            self.forget(src, dst);
            return;
        }
        let len = seg.payload.len() as u32 + u32::from(seg.flags.syn) + u32::from(seg.flags.fin);
        if len == 0 {
            return;
        }
        let end = seg.seq.wrapping_add(len);
        let d = self.directions.entry((src, dst)).or_insert(Direction {
            acked: seg.seq,
            sent_to: seg.seq,
            counting_since: None,
        });
        let retransmission = !after(end, d.sent_to);
        if after(end, d.sent_to) {
            d.sent_to = end;
        }
        if retransmission || d.counting_since.is_none() {
            d.counting_since = Some(now);
        }
    }

    /// `pkt` was delivered to its destination at `now`.
    pub fn delivered(&mut self, now: Duration, pkt: &Packet) {
        let Some((src, dst, seg)) = endpoints(pkt) else {
            return;
        };
        if seg.flags.rst {
            self.forget(src, dst);
            return;
        }
        if !seg.flags.ack {
            return;
        }
        // An acknowledgement of the reverse direction.
        let Some(d) = self.directions.get_mut(&(dst, src)) else {
            return;
        };
        if after(seg.ack, d.acked) && !after(seg.ack, d.sent_to) {
            d.acked = seg.ack;
            d.counting_since = if after(d.sent_to, d.acked) {
                Some(now)
            } else {
                None
            };
        }
    }

    /// The earliest time any direction could retransmit, with counters `threshold` long.
    pub fn next_retransmission(&self, threshold: Duration) -> Option<Duration> {
        let early = threshold.saturating_sub(Duration::from_millis(1));
        self.directions
            .values()
            .filter_map(|d| d.counting_since)
            .min()
            .map(|t| t + early)
    }

    /// A RST ended the connection between `a` and `b`: both directions stop counting.
    fn forget(&mut self, a: SocketAddr, b: SocketAddr) {
        self.directions.remove(&(a, b));
        self.directions.remove(&(b, a));
    }

    /// Forgets everything about connections with an end at `ip` (a crash wiped them).
    pub fn forget_host(&mut self, ip: std::net::IpAddr) {
        self.directions
            .retain(|(a, b), _| a.ip() != ip && b.ip() != ip);
    }
}
