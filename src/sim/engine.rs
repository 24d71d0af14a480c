//! The event-driven engine: turmoil-net's simulated TCP stacks, one paused tokio clock, and a
//! loop that jumps from event to event (a packet due, a host's timer, a scheduled fault), so a
//! run costs what happens in it, not how long it lasts.
//!
//! # How a turn goes
//!
//! Every host's tasks run on one `LocalSet` of a current-thread tokio runtime whose clock is
//! paused. Each task is wrapped so that every poll names its host to turmoil-net (socket calls
//! land in that host's kernel) and raises an activity flag. One turn of the loop, at virtual
//! time `now`:
//!
//! 1. deliver the packets due by `now`, one at a time, letting the tasks run until none is
//!    ready after each (`settle`), so every segment is read apart from the next;
//! 2. let the tasks run until none is ready;
//! 3. ask the caller's control (fault schedule, crash requests, end of run);
//! 4. once per millisecond at most, and only while something happened or some connection has
//!    bytes or a handshake in flight, pull every host's egress and decide each packet's fate
//!    ([`Network::route`]);
//! 5. sleep until the next event: a packet due, the next millisecond while a stream has writes
//!    queued, the earliest moment TCP could retransmit (`retx_watch`), the control's next
//!    deadline, or a task's own timer, whichever comes first. With every task idle the paused
//!    clock jumps there, and the passes of the skipped milliseconds are made then, sending
//!    nothing but advancing the retransmission counters exactly as they would have.
//!
//! # Retransmission follows time
//!
//! turmoil-net counts retransmission in egress passes. Passes happen exactly once per
//! millisecond while any connection has unacknowledged data, so `retx_threshold` passes are
//! that many milliseconds: [`TcpTiming`] turns a retransmission timeout and a give-up time into
//! the kernel's counts.
//!
//! # Crashes
//!
//! A crash wipes the host's connections from its kernel (each is aborted as if reset, which
//! sends nothing), drops its tasks (with the host named, so their sockets close in its own
//! kernel) and discards whatever it would still send: nothing leaves a host at its crash.
//! While it is down, segments to it are lost (the peer retransmits and may give up); after its
//! restart its stack has never heard of the old connections and answers their next segment
//! with a RST, as a rebooted host does.

use super::network::Network;
use super::retx_watch::RetxWatch;
use super::stream;
use crate::net;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use turmoil_net::{
    HostId, KernelConfig, Net, NetstatState, Packet, TcpFlags, TcpSegment, Transport,
};

/// A host's software: what runs when it boots (and again at each restart).
pub type Software = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = ()>>>>;

/// TCP's retransmission timing, in milliseconds of virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTiming {
    /// Retransmit after this long without acknowledgement progress.
    pub rto: Duration,
    /// Give up (the connection resets) after this many retransmissions in a row.
    pub retries: u32,
}

impl TcpTiming {
    /// The give-up time: how long a connection survives a silent peer.
    pub fn give_up(&self) -> Duration {
        self.rto * (self.retries + 1)
    }

    fn kernel_config(&self) -> KernelConfig {
        KernelConfig::default()
            .retx_threshold(self.rto.as_millis().max(1) as u32)
            .retx_max(self.retries)
    }
}

/// What the engine did in a run: the measure of its cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Turns of the loop (wake-ups of the harness).
    pub turns: u64,
    /// Egress passes (each advances TCP's retransmission clocks by a millisecond).
    pub passes: u64,
}

/// What the control says after each turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on; wake no later than this (if given).
    Continue(Option<Duration>),
    /// The run is over.
    Stop,
}

/// One task slot: the future, owned jointly by the task wrapper and the host's registry so
/// that a crash can drop it from outside.
type Slot = RefCell<Option<Pin<Box<dyn Future<Output = ()>>>>>;

struct HostEntry {
    id: HostId,
    tasks: Vec<Weak<Slot>>,
}

thread_local! {
    /// The hosts of the world running on this thread (tasks spawn into the current one).
    static HOSTS: RefCell<Vec<HostEntry>> = const { RefCell::new(Vec::new()) };
    /// The host whose task is being polled.
    static CURRENT: Cell<Option<usize>> = const { Cell::new(None) };
    /// Some task was polled since the harness last looked.
    static ACTIVITY: Cell<bool> = const { Cell::new(false) };
    /// The harness, waiting for activity or its timer.
    static HARNESS: RefCell<Option<Waker>> = const { RefCell::new(None) };
}

/// Spawns `future` on the current host (the host of the task calling this): it runs while the
/// host is up and is dropped when the host crashes.
///
/// # Panics
///
/// Outside a simulated host.
pub fn spawn(future: impl Future<Output = ()> + 'static) {
    let host = CURRENT
        .with(Cell::get)
        .expect("engine::spawn is called from a simulated host");
    spawn_on(host, Box::pin(future));
}

/// Spawns `future` on the current host, or gives it back outside a simulated host.
pub(crate) fn try_spawn<F: Future<Output = ()> + 'static>(future: F) -> Result<(), F> {
    match CURRENT.with(Cell::get) {
        Some(host) => {
            spawn_on(host, Box::pin(future));
            Ok(())
        }
        None => Err(future),
    }
}

fn spawn_on(host: usize, future: Pin<Box<dyn Future<Output = ()>>>) -> Rc<Slot> {
    let slot: Rc<Slot> = Rc::new(RefCell::new(Some(future)));
    let id = HOSTS.with(|h| {
        let mut hosts = h.borrow_mut();
        let entry = &mut hosts[host];
        entry.tasks.retain(|w| w.strong_count() > 0);
        entry.tasks.push(Rc::downgrade(&slot));
        entry.id
    });
    tokio::task::spawn_local(HostTask {
        host,
        id,
        slot: slot.clone(),
    });
    slot
}

/// A task of a host: names the host on every poll, reports activity.
struct HostTask {
    host: usize,
    id: HostId,
    slot: Rc<Slot>,
}

impl Future for HostTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ACTIVITY.with(|a| a.set(true));
        if let Some(w) = HARNESS.with(|h| h.borrow_mut().take()) {
            w.wake();
        }
        turmoil_net::set_current(self.id);
        let previous = CURRENT.with(|c| c.replace(Some(self.host)));
        let previous_id = stream::enter_host(Some(self.id));
        let mut slot = self.slot.borrow_mut();
        let done = match slot.as_mut() {
            Some(future) => future.as_mut().poll(cx).is_ready(),
            None => true,
        };
        if done {
            // Dropped here, with the host named, so its sockets close in its own kernel.
            let finished = slot.take();
            drop(slot);
            drop(finished);
        } else {
            drop(slot);
        }
        CURRENT.with(|c| c.set(previous));
        stream::enter_host(previous_id);
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Drops every task of `host` (a crash, or the end of the run).
fn kill_tasks(host: usize) {
    let (id, slots) = HOSTS.with(|h| {
        let mut hosts = h.borrow_mut();
        let entry = &mut hosts[host];
        let slots: Vec<Rc<Slot>> = entry.tasks.drain(..).filter_map(|w| w.upgrade()).collect();
        (entry.id, slots)
    });
    turmoil_net::set_current(id);
    let previous = CURRENT.with(|c| c.replace(Some(host)));
    for slot in slots {
        let future = slot.borrow_mut().take();
        drop(future);
    }
    CURRENT.with(|c| c.set(previous));
}

/// A host of the world.
struct Host {
    name: &'static str,
    ip: IpAddr,
    software: Software,
    down: bool,
}

/// A world under construction, then running.
pub struct Engine {
    net: Option<Net>,
    hosts: Vec<Host>,
    network: Network,
    timing: TcpTiming,
    /// Some stream still has writes queued for the next pass.
    writes_queued: bool,
    /// After the last pass, some connection had data or a handshake in flight.
    tcp_busy: bool,
    last_pass: Option<Duration>,
    watch: RetxWatch,
    stats: EngineStats,
}

/// What the control may do to the world between turns.
pub struct Control<'a> {
    engine: &'a mut Engine,
    now: Duration,
}

impl Control<'_> {
    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The network's link and packet state.
    pub fn network(&mut self) -> &mut Network {
        &mut self.engine.network
    }

    /// Crashes `name`: its tasks are dropped, nothing it sends leaves it, its connections go
    /// stale. False if it was already down.
    pub fn crash(&mut self, name: &str) -> bool {
        let Some(i) = self.engine.index(name) else {
            return false;
        };
        if self.engine.hosts[i].down {
            return false;
        }
        self.engine.hosts[i].down = true;
        let ip = self.engine.hosts[i].ip;
        self.engine.network.host_down(ip);
        self.engine.watch.forget_host(ip);
        forget_connections(ip);
        kill_tasks(i);
        // Reap the closed sockets now (so the restart can bind again); what the host would
        // send is lost, since it is down.
        let mut egress = Vec::new();
        self.engine.pass(self.now, &mut egress);
        true
    }

    /// Restarts a crashed `name`: its software runs again from the start. False if it was up.
    pub fn restart(&mut self, name: &str) -> bool {
        let Some(i) = self.engine.index(name) else {
            return false;
        };
        if !self.engine.hosts[i].down {
            return false;
        }
        self.engine.hosts[i].down = false;
        let ip = self.engine.hosts[i].ip;
        self.engine.network.host_up(ip);
        spawn_on(i, (self.engine.hosts[i].software)());
        true
    }

    /// The hosts that are down.
    pub fn down(&self) -> Vec<&'static str> {
        self.engine
            .hosts
            .iter()
            .filter(|h| h.down)
            .map(|h| h.name)
            .collect()
    }
}

impl Engine {
    /// An empty world whose links behave as `network` says, with TCP timed by `timing`.
    pub fn new(network: Network, timing: TcpTiming) -> Self {
        Engine {
            net: Some(Net::with_config(timing.kernel_config())),
            hosts: Vec::new(),
            network,
            timing,
            writes_queued: false,
            tcp_busy: false,
            last_pass: None,
            watch: RetxWatch::default(),
            stats: EngineStats::default(),
        }
    }

    /// The TCP timing of this world.
    pub fn timing(&self) -> TcpTiming {
        self.timing
    }

    /// Adds a host named `name` that runs `software` at boot and at every restart.
    pub fn host(&mut self, name: &'static str, software: Software) {
        let net = self.net.as_mut().expect("hosts are added before the run");
        net.add_host(name);
        let ip = net.lookup(name);
        self.network.add_host(name, ip);
        self.hosts.push(Host {
            name,
            ip,
            software,
            down: false,
        });
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// Runs the world until `control` says stop; returns the virtual time it took.
    ///
    /// `control` is asked after every turn; it must eventually return a deadline or stop (a
    /// world with no timers and no deadline would wait forever).
    pub fn run(
        mut self,
        mut control: impl FnMut(&mut Control<'_>) -> Flow,
    ) -> (Duration, Network, EngineStats) {
        let net = self.net.take().expect("run once");
        let ids: Vec<HostId> = net.host_ids().collect();
        GUARD.with(|g| *g.borrow_mut() = Some(net.enter()));
        HOSTS.with(|h| {
            *h.borrow_mut() = ids
                .iter()
                .map(|&id| HostEntry {
                    id,
                    tasks: Vec::new(),
                })
                .collect()
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime");
        let local = tokio::task::LocalSet::new();
        let start = runtime.block_on(async { tokio::time::Instant::now() });
        net::enter_simulation(start);
        let elapsed = local.block_on(&runtime, async {
            for i in 0..self.hosts.len() {
                spawn_on(i, (self.hosts[i].software)());
            }
            self.turns(start, &mut control).await
        });
        for i in 0..self.hosts.len() {
            kill_tasks(i);
        }
        drop(local);
        drop(runtime);
        HOSTS.with(|h| h.borrow_mut().clear());
        HARNESS.with(|h| h.borrow_mut().take());
        net::leave_simulation();
        stream::reset();
        let guard = GUARD.with(|g| g.borrow_mut().take());
        drop(guard);
        (elapsed, self.network, self.stats)
    }

    async fn turns(
        &mut self,
        start: tokio::time::Instant,
        control: &mut impl FnMut(&mut Control<'_>) -> Flow,
    ) -> Duration {
        let mut dirty = true;
        let mut egress: Vec<Packet> = Vec::with_capacity(64);
        loop {
            self.stats.turns += 1;
            let now = start.elapsed();
            if self.tcp_busy {
                self.catch_up(now, &mut egress);
            }
            // One packet at a time, each read before the next arrives: a reader sees the
            // segment boundaries, as a middlebox inspecting packets does.
            while let Some(pkt) = self.network.pop_due(now) {
                self.watch.delivered(now, &pkt);
                deliver(pkt);
                dirty = true;
                settle().await;
            }
            dirty |= settle().await;
            let flow = control(&mut Control { engine: self, now });
            let Flow::Continue(deadline) = flow else {
                // What the last steps wrote (a FIN, say) still leaves, for the capture.
                if self.last_pass != Some(now) {
                    self.pass(now, &mut egress);
                }
                return now;
            };
            dirty |= settle().await;

            if (dirty || self.writes_queued || self.tcp_busy) && self.last_pass != Some(now) {
                dirty = false;
                self.pass(now, &mut egress);
            }
            self.tcp_busy = self.data_in_flight();
            let next_ms = next_millisecond(now);
            let next_tick = (dirty || self.writes_queued).then_some(next_ms);
            let retransmission = self.tcp_busy.then(|| {
                self.watch
                    .next_retransmission(self.timing.rto)
                    .filter(|t| *t > now)
                    .unwrap_or(next_ms)
            });
            let wake = [next_tick, retransmission, self.network.next_due(), deadline]
                .into_iter()
                .flatten()
                .min();
            dirty |= wait(start, wake).await;
        }
    }

    /// The passes of the milliseconds skipped since the last one, while TCP had data in
    /// flight: each advances the retransmission counters as a pass at that millisecond would
    /// (and routes what it sends, normally nothing, at that millisecond).
    fn catch_up(&mut self, now: Duration, egress: &mut Vec<Packet>) {
        let Some(last) = self.last_pass else { return };
        let mut at = last + Duration::from_millis(1);
        while at < now {
            self.pass(at, egress);
            at += Duration::from_millis(1);
        }
    }

    /// One egress pass: every host's outbound packets, each routed by the network.
    fn pass(&mut self, now: Duration, egress: &mut Vec<Packet>) {
        self.stats.passes += 1;
        self.last_pass = Some(now);
        self.writes_queued = stream::feed_queued_writes();
        turmoil_net_guard(|g| g.egress_all(egress));
        for pkt in egress.drain(..) {
            self.watch.sent(now, &pkt);
            self.network.route(now, pkt);
        }
        stream::egress_passed();
    }

    /// Whether some live connection has bytes or a handshake in flight (so TCP's timers run).
    fn data_in_flight(&self) -> bool {
        self.hosts.iter().filter(|h| !h.down).any(|h| {
            turmoil_net::netstat(h.ip).entries.iter().any(|e| {
                let Some(state) = e.state else { return false };
                match state {
                    NetstatState::Listen | NetstatState::Closed | NetstatState::FinWait2 => false,
                    NetstatState::SynSent
                    | NetstatState::SynReceived
                    | NetstatState::FinWait1
                    | NetstatState::Closing
                    | NetstatState::LastAck => true,
                    NetstatState::Established | NetstatState::CloseWait => e.send_q > 0,
                }
            })
        })
    }
}

/// The egress/deliver primitives need the installed `Net`; turmoil-net hands them out through
/// its guard, which we hold for the whole run. A zero-sized second guard cannot be made, so
/// these go through a thread-local the run sets.
fn turmoil_net_guard<R>(f: impl FnOnce(&turmoil_net::EnterGuard) -> R) -> R {
    GUARD.with(|g| f(g.borrow().as_ref().expect("the world is running")))
}

thread_local! {
    static GUARD: RefCell<Option<turmoil_net::EnterGuard>> = const { RefCell::new(None) };
}

/// Aborts every connection of the host at `ip` in its own kernel, as a RST from each peer
/// would: buffers cleared, state closed, nothing sent.
fn forget_connections(ip: IpAddr) {
    for entry in turmoil_net::netstat(ip).entries {
        let Some(peer) = entry.peer else { continue };
        if entry.state.is_none() || entry.state == Some(NetstatState::Listen) {
            continue;
        }
        deliver(Packet {
            src: peer.ip(),
            dst: entry.local.ip(),
            ttl: 64,
            payload: Transport::Tcp(TcpSegment {
                src_port: peer.port(),
                dst_port: entry.local.port(),
                seq: 0,
                ack: 0,
                flags: TcpFlags {
                    rst: true,
                    ..TcpFlags::default()
                },
                window: 0,
                payload: Default::default(),
            }),
        });
    }
}

fn deliver(pkt: Packet) {
    turmoil_net_guard(|g| g.deliver(pkt));
}

fn next_millisecond(now: Duration) -> Duration {
    Duration::from_millis(now.as_millis() as u64 + 1)
}

/// Lets every ready task run until none is; true if any ran.
async fn settle() -> bool {
    let mut any = false;
    loop {
        ACTIVITY.with(|a| a.set(false));
        tokio::task::yield_now().await;
        if !ACTIVITY.with(Cell::get) {
            return any;
        }
        any = true;
    }
}

/// Waits until some task runs or `wake` comes; true if a task ran.
async fn wait(start: tokio::time::Instant, wake: Option<Duration>) -> bool {
    let mut sleep = wake.map(|w| Box::pin(tokio::time::sleep_until(start + w)));
    std::future::poll_fn(|cx| {
        if ACTIVITY.with(|a| a.replace(false)) {
            return Poll::Ready(true);
        }
        if let Some(s) = sleep.as_mut() {
            if s.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
        }
        HARNESS.with(|h| *h.borrow_mut() = Some(cx.waker().clone()));
        Poll::Pending
    })
    .await
}
