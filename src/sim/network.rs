//! The wire between the simulated hosts: per-packet latency (seeded), FIFO per direction, link
//! faults (held, partitioned), hosts that are down, and the capture of every packet as it left
//! its host (what `--format pcap` writes).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;
use turmoil_net::Packet;

/// What became of a packet that left a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// On its way; delivered after its latency.
    Scheduled,
    /// Parked on a held link until it is released.
    Held,
    /// Lost: a partition, or a host that is down.
    Lost,
}

/// One packet as it left its host.
#[derive(Debug, Clone)]
pub struct Captured {
    /// When it left.
    pub at: Duration,
    /// The packet.
    pub packet: Packet,
    /// What the network did with it: `sent`, `held` (a delay spike), `lost`.
    pub fate: &'static str,
}

/// Latency: `min + (max - min) × X`, X exponential with rate `curve` (larger: more short
/// delays), in whole milliseconds, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Shortest one-way latency.
    pub min: Duration,
    /// Longest one-way latency.
    pub max: Duration,
    /// The exponential's rate λ.
    pub curve: f64,
}

#[derive(Debug)]
struct LinkState {
    ends: (IpAddr, IpAddr),
    held: bool,
    partitioned: bool,
    parked: Vec<Packet>,
    /// Segments lost to the current partition.
    lost: u64,
}

/// The network's state.
#[derive(Debug)]
pub struct Network {
    rng: ChaCha8Rng,
    latency: Latency,
    names: Vec<(&'static str, IpAddr)>,
    pending: BTreeMap<(Duration, u64), Packet>,
    sequence: u64,
    last_arrival: BTreeMap<(IpAddr, IpAddr), Duration>,
    links: Vec<LinkState>,
    down: BTreeSet<IpAddr>,
    capture: Option<Vec<Captured>>,
}

impl Network {
    /// A network whose latencies are drawn from `rng`.
    pub fn new(rng: ChaCha8Rng, latency: Latency) -> Self {
        Network {
            rng,
            latency,
            names: Vec::new(),
            pending: BTreeMap::new(),
            sequence: 0,
            last_arrival: BTreeMap::new(),
            links: Vec::new(),
            down: BTreeSet::new(),
            capture: None,
        }
    }

    /// The latency model.
    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// Keeps every packet that leaves a host (for pcap).
    pub fn capture(mut self) -> Self {
        self.capture = Some(Vec::new());
        self
    }

    /// The captured packets, in the order they left their hosts.
    pub fn captured(&mut self) -> Vec<Captured> {
        self.capture.take().unwrap_or_default()
    }

    pub(super) fn add_host(&mut self, name: &'static str, ip: IpAddr) {
        self.names.push((name, ip));
    }

    /// The address of host `name`.
    pub fn ip(&self, name: &str) -> Option<IpAddr> {
        self.names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, ip)| *ip)
    }

    /// The name of the host at `ip`.
    pub fn name(&self, ip: IpAddr) -> Option<&'static str> {
        self.names.iter().find(|(_, i)| *i == ip).map(|(n, _)| *n)
    }

    fn link(&mut self, a: &str, b: &str) -> Option<&mut LinkState> {
        let (a, b) = (self.ip(a)?, self.ip(b)?);
        let ends = if a <= b { (a, b) } else { (b, a) };
        if let Some(i) = self.links.iter().position(|l| l.ends == ends) {
            return Some(&mut self.links[i]);
        }
        self.links.push(LinkState {
            ends,
            held: false,
            partitioned: false,
            parked: Vec::new(),
            lost: 0,
        });
        self.links.last_mut()
    }

    /// Segments between `a` and `b` are parked (delayed, not lost) until [`Network::release`].
    pub fn hold(&mut self, a: &str, b: &str) {
        if let Some(l) = self.link(a, b) {
            l.held = true;
        }
    }

    /// Sends what was parked between `a` and `b`, in order, and stops parking.
    pub fn release(&mut self, now: Duration, a: &str, b: &str) {
        let parked = match self.link(a, b) {
            Some(l) => {
                l.held = false;
                std::mem::take(&mut l.parked)
            }
            None => return,
        };
        for pkt in parked {
            self.transmit(now, pkt);
        }
    }

    /// Segments between `a` and `b` are lost until [`Network::repair`].
    pub fn partition(&mut self, a: &str, b: &str) {
        if let Some(l) = self.link(a, b) {
            l.partitioned = true;
        }
    }

    /// Ends a partition between `a` and `b`; the number of segments it lost.
    pub fn repair(&mut self, a: &str, b: &str) -> u64 {
        match self.link(a, b) {
            Some(l) => {
                l.partitioned = false;
                std::mem::take(&mut l.lost)
            }
            None => 0,
        }
    }

    /// `ip` is down: nothing it sends leaves it, nothing reaches it.
    pub(super) fn host_down(&mut self, ip: IpAddr) {
        self.down.insert(ip);
    }

    pub(super) fn host_up(&mut self, ip: IpAddr) {
        self.down.remove(&ip);
    }

    /// The next delivery time, if any packet is on its way.
    pub fn next_due(&self) -> Option<Duration> {
        self.pending.keys().next().map(|(t, _)| *t)
    }

    /// The next packet due by `now` (packets for a host that is down are lost on arrival).
    pub fn pop_due(&mut self, now: Duration) -> Option<Packet> {
        loop {
            let entry = self.pending.first_entry()?;
            if entry.key().0 > now {
                return None;
            }
            let pkt = entry.remove();
            if !self.down.contains(&pkt.dst) {
                return Some(pkt);
            }
        }
    }

    /// Decides the fate of `pkt`, which left its host at `now`.
    pub fn route(&mut self, now: Duration, pkt: Packet) -> Fate {
        let fate = self.fate(&pkt);
        if let Some(capture) = self.capture.as_mut() {
            let label = match fate {
                Fate::Scheduled => "sent",
                Fate::Held => "held",
                Fate::Lost => "lost",
            };
            capture.push(Captured {
                at: now,
                packet: pkt.clone(),
                fate: label,
            });
        }
        match &fate {
            Fate::Scheduled => self.transmit(now, pkt),
            Fate::Held => {
                let (src, dst) = (pkt.src, pkt.dst);
                let ends = if src <= dst { (src, dst) } else { (dst, src) };
                if let Some(l) = self.links.iter_mut().find(|l| l.ends == ends) {
                    l.parked.push(pkt);
                }
            }
            Fate::Lost => {}
        }
        fate
    }

    fn fate(&mut self, pkt: &Packet) -> Fate {
        if self.down.contains(&pkt.src) || self.down.contains(&pkt.dst) {
            return Fate::Lost;
        }
        let ends = if pkt.src <= pkt.dst {
            (pkt.src, pkt.dst)
        } else {
            (pkt.dst, pkt.src)
        };
        match self.links.iter_mut().find(|l| l.ends == ends) {
            Some(l) if l.partitioned => {
                l.lost += 1;
                Fate::Lost
            }
            Some(l) if l.held => Fate::Held,
            _ => Fate::Scheduled,
        }
    }

    /// Puts `pkt` on the wire: it arrives after a drawn latency, never before a packet sent
    /// earlier in the same direction.
    fn transmit(&mut self, now: Duration, pkt: Packet) {
        let latency = self.draw_latency();
        let direction = (pkt.src, pkt.dst);
        let floor = self
            .last_arrival
            .get(&direction)
            .copied()
            .unwrap_or_default();
        let at = (now + latency).max(floor);
        self.last_arrival.insert(direction, at);
        self.sequence += 1;
        self.pending.insert((at, self.sequence), pkt);
    }

    fn draw_latency(&mut self) -> Duration {
        let Latency { min, max, curve } = self.latency;
        if max <= min {
            return min;
        }
        let rate = if curve > 0.0 { curve } else { 5.0 };
        let u: f64 = self.rng.random();
        let x = -(1.0 - u).ln() / rate;
        let range = (max - min).as_millis() as f64;
        (min + Duration::from_millis((range * x) as u64)).min(max)
    }
}
