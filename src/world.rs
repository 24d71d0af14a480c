//! The world builder: a simulated world where any of the three roles (client, server,
//! interceptor) is the user's own async code, run, swept, shrunk and snapshotted from Rust.
//!
//! A [`World`] starts from a scenario (a built-in sim by name, or TOML text) that describes
//! the rest of the world: the built-in roles, the messages, the network and the faults. Each
//! role can then be replaced by a factory of the user's code; the types that code gets are in
//! [`crate::sim::byo`]. The guide is `docs/library.md`.
//!
//! ```
//! use smtpsim::world::World;
//!
//! let world = World::sim("symantec-rset").faults("lossy-network");
//! let result = world.run(0).unwrap();
//! println!("{}", smtpsim::format::text::render(&result));
//! ```

use crate::fault::FaultPlan;
use crate::scenario::Scenario;
use crate::shrink::Shrunk;
use crate::sim::byo::{Cast, Client, Conn, Mailbox, Upstream};
use crate::sim::{self, RunResult, SimError};
use crate::sweep::{self, Progress, Shard, SweepReport};
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;

/// A simulated world: a scenario, with any role played by the user's code.
///
/// Builder methods never fail: a bad name (an unknown sim or preset) is kept and every run
/// of the world returns it as a [`SimError`].
///
/// ```
/// use smtpsim::world::World;
///
/// let world = World::sim("passthrough-baseline");
/// assert!(world.run(0).unwrap().report.passed());
/// let bad = World::sim("no-such-sim");
/// assert!(bad.run(0).unwrap_err().to_string().contains("no-such-sim"));
/// ```
#[derive(Clone)]
pub struct World {
    scenario: Result<Scenario, SimError>,
    cast: Cast,
    replay: String,
}

impl World {
    /// The world a scenario describes, every role built in.
    ///
    /// ```
    /// use smtpsim::{scenario::Scenario, world::World};
    ///
    /// let text = smtpsim::catalogue::find("symantec-rset").unwrap().1;
    /// let scenario = Scenario::parse(text, "symantec-rset.toml").unwrap();
    /// let world = World::new(scenario);
    /// assert_eq!(world.scenario().unwrap().name, "symantec-rset");
    /// ```
    pub fn new(scenario: Scenario) -> World {
        World {
            scenario: Ok(scenario),
            cast: Cast::default(),
            replay: "world".to_string(),
        }
    }

    /// The built-in sim `name` (see [`crate::catalogue`]; no file is read).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("pix-mailguard");
    /// assert!(world.scenario().unwrap().interceptor.is_some());
    /// ```
    pub fn sim(name: &str) -> World {
        match crate::catalogue::find(name) {
            Some((stem, text)) => World::toml(text, &format!("{stem}.toml")),
            None => World::failed(format!(
                "no built-in sim {name:?} (smtpsim::catalogue::SIMS lists them)"
            )),
        }
    }

    /// The world the scenario `text` describes (`file` names it in errors). A `postconf` key
    /// would need a file next to it, so it is refused here.
    ///
    /// ```
    /// let world = smtpsim::world::World::toml(r#"
    ///     name = "mine"
    ///     [client]
    ///     profile = "ssmtp"
    ///     [[client.message]]
    ///     from = "a@example.org"
    ///     to = ["b@example.org"]
    ///     body = "Subject: hi\n\nhello\n"
    ///     [server]
    ///     profile = "postfix"
    ///     mailboxes = ["b@example.org"]
    /// "#, "mine.toml");
    /// assert!(world.run(0).unwrap().report.passed());
    /// ```
    pub fn toml(text: &str, file: &str) -> World {
        match Scenario::parse(text, file) {
            Ok(scenario) => World::new(scenario),
            Err(e) => World::failed(e.to_string()),
        }
    }

    fn failed(why: String) -> World {
        World {
            scenario: Err(SimError(why)),
            cast: Cast::default(),
            replay: "world".to_string(),
        }
    }

    /// The scenario (or why there is none).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset");
    /// assert_eq!(world.scenario().unwrap().faults, "none");
    /// ```
    pub fn scenario(&self) -> Result<&Scenario, SimError> {
        self.scenario.as_ref().map_err(Clone::clone)
    }

    fn edit(mut self, change: impl FnOnce(Scenario) -> Result<Scenario, String>) -> World {
        self.scenario = self.scenario.and_then(|s| change(s).map_err(SimError));
        self
    }

    /// Draws faults from the preset `name` (`none`, `lossy-network`, `flaky-server`,
    /// `chaos`; see `docs/faults.md`), keeping the scenario's own `[faults]` settings.
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset").faults("lossy-network");
    /// assert!(!world.plan(1).unwrap().events.is_empty());
    /// ```
    pub fn faults(self, name: &str) -> World {
        self.edit(|s| s.with_fault_profile(name))
    }

    /// Puts the built-in interceptor preset `name` between client and server (`passthrough`,
    /// `symantec-rset`, `pix-mailguard`, …), replacing the scenario's.
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("postfix-queue-retry").interceptor_preset("pix-mailguard");
    /// assert!(world.run(0).unwrap().header[2].contains("interceptor=pix-mailguard"));
    /// ```
    pub fn interceptor_preset(self, name: &str) -> World {
        let name = name.to_string();
        self.edit(move |mut s| {
            let cfg = crate::profile::InterceptorConfig::preset(&name)?;
            s.interceptor = Some((name, cfg));
            Ok(s)
        })
    }

    /// Plays the client with the user's code: `factory` is called when the client host boots
    /// (again if it restarts) with a [`Client`]: the scenario's messages, `connect` for as
    /// many connections as it likes, and `tell` for what it believes became of each message.
    /// The oracle judges those beliefs, not the scenario's client profile.
    ///
    /// ```
    /// use smtpsim::sim::byo::Belief;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// // A client that reads the banner and gives up on every message.
    /// let world = smtpsim::world::World::sim("passthrough-baseline").client("quitter", |client| async move {
    ///     let mut conn = client.connect().await.expect("connected");
    ///     let mut banner = [0u8; 512];
    ///     let _ = conn.read(&mut banner).await;
    ///     let _ = conn.write_all(b"QUIT\r\n").await;
    ///     for m in client.messages() {
    ///         client.tell(m.id, Belief::GaveUp { reason: "did not try".into() });
    ///     }
    /// });
    /// let result = world.run(0).unwrap();
    /// assert!(result.report.passed());
    /// assert_eq!(result.report.messages[0].verdict, smtpsim::oracle::Verdict::Failed);
    /// ```
    pub fn client<F, Fut>(mut self, name: &str, factory: F) -> World
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.cast.client = Some((name.to_string(), Arc::new(move |c| Box::pin(factory(c)))));
        self
    }

    /// Plays the server with the user's code: `factory` is called for every connection the
    /// server accepts, with the [`Conn`] and the [`Mailbox`] where it stores what it accepted.
    /// The oracle compares what was stored with what the client sent and was told.
    ///
    /// ```
    /// use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    ///
    /// // A server that accepts every message (no dot-stuffing undone: fine for this body).
    /// let world = smtpsim::world::World::sim("passthrough-baseline").server("tiny", |conn, mailbox| async move {
    ///     let mut conn = BufReader::new(conn);
    ///     let _ = conn.write_all(b"220 tiny\r\n").await;
    ///     let (mut from, mut to, mut body, mut data) = (String::new(), Vec::new(), Vec::new(), false);
    ///     let mut line = String::new();
    ///     while conn.read_line(&mut line).await.unwrap_or(0) > 0 {
    ///         let reply: &[u8] = if data {
    ///             if line == ".\r\n" {
    ///                 data = false;
    ///                 let body = std::mem::take(&mut body);
    ///                 let body = body.strip_prefix(b".").unwrap_or(&body).to_vec();
    ///                 mailbox.store(&from, &to, &body);
    ///                 b"250 stored\r\n"
    ///             } else {
    ///                 body.extend_from_slice(line.as_bytes());
    ///                 b""
    ///             }
    ///         } else if let Some(a) = line.strip_prefix("MAIL FROM:<") {
    ///             from = a.trim_end().trim_end_matches('>').into();
    ///             b"250 ok\r\n"
    ///         } else if let Some(a) = line.strip_prefix("RCPT TO:<") {
    ///             to.push(a.trim_end().trim_end_matches('>').into());
    ///             b"250 ok\r\n"
    ///         } else if line.starts_with("DATA") {
    ///             data = true;
    ///             b"354 go on\r\n"
    ///         } else if line.starts_with("QUIT") {
    ///             let _ = conn.write_all(b"221 bye\r\n").await;
    ///             return;
    ///         } else {
    ///             b"250 ok\r\n"
    ///         };
    ///         let _ = conn.write_all(reply).await;
    ///         line.clear();
    ///     }
    /// });
    /// let result = world.run(0).unwrap();
    /// assert_eq!(result.deliveries.len(), 1);
    /// ```
    pub fn server<F, Fut>(mut self, name: &str, factory: F) -> World
    where
        F: Fn(Conn, Mailbox) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let factory = Arc::new(move |c, m| Box::pin(factory(c, m)) as sim::byo::LocalFuture);
        self.cast.server = Some((name.to_string(), factory));
        self
    }

    /// Plays the interceptor with the user's code: `factory` is called for every connection
    /// from the client side, with an [`Upstream`] to open connections to the server. The
    /// oracle judges it by what reaches the server.
    ///
    /// ```
    /// // A transparent relay.
    /// let world = smtpsim::world::World::sim("passthrough-baseline").interceptor("relay", |mut down, upstream| async move {
    ///     let Ok(mut up) = upstream.connect().await else { return };
    ///     let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
    /// });
    /// let result = world.run(0).unwrap();
    /// assert!(result.report.passed(), "{:?}", result.report.violations);
    /// ```
    pub fn interceptor<F, Fut>(mut self, name: &str, factory: F) -> World
    where
        F: Fn(Conn, Upstream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let factory = Arc::new(move |c, u| Box::pin(factory(c, u)) as sim::byo::LocalFuture);
        self.cast.interceptor = Some((name.to_string(), factory));
        self
    }

    /// The Rust expression that builds this world, for replay lines (`world` unless set):
    /// with `my_world()`, a failing seed replays as `my_world().run(7)`.
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset").replay_as("my_world()");
    /// assert_eq!(world.replay(7), "my_world().run(7)");
    /// ```
    pub fn replay_as(mut self, expression: &str) -> World {
        self.replay = expression.to_string();
        self
    }

    /// The Rust call that replays `seed` (also the `replay:` line of its transcript).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset");
    /// assert_eq!(world.replay(3), "world.run(3)");
    /// ```
    pub fn replay(&self, seed: u64) -> String {
        crate::seeds::replay_call(&self.replay, seed)
    }

    fn cast(&self) -> Cast {
        Cast {
            replay: Some(self.replay.clone()),
            ..self.cast.clone()
        }
    }

    /// The fault plan `seed` draws (the preset's draw, then the scenario's own events).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset").faults("lossy-network");
    /// assert_eq!(world.plan(5).unwrap(), world.plan(5).unwrap());
    /// ```
    pub fn plan(&self, seed: u64) -> Result<FaultPlan, SimError> {
        let scenario = self.scenario()?;
        let interceptor = scenario.interceptor.is_some() || self.cast.interceptor.is_some();
        Ok(sim::plan_drawn(scenario, seed, interceptor))
    }

    /// Runs `seed`: the same seed gives the same bytes, every time.
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset").faults("lossy-network");
    /// let (a, b) = (world.run(2).unwrap(), world.run(2).unwrap());
    /// assert_eq!(smtpsim::format::text::render(&a), smtpsim::format::text::render(&b));
    /// ```
    pub fn run(&self, seed: u64) -> Result<RunResult, SimError> {
        self.run_with_plan(seed, self.plan(seed)?)
    }

    /// Runs `seed` with exactly `plan` (a shrunk one, say) instead of the seed's draw.
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset").faults("lossy-network");
    /// let calm = world.run_with_plan(1, smtpsim::fault::FaultPlan::default()).unwrap();
    /// assert!(calm.report.passed());
    /// ```
    pub fn run_with_plan(&self, seed: u64, plan: FaultPlan) -> Result<RunResult, SimError> {
        sim::run_cast(self.scenario()?, seed, plan, &self.cast(), false)
    }

    /// Runs `seed` keeping every packet (for [`crate::format::pcap`]).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset");
    /// assert!(!world.run_captured(0).unwrap().packets.is_empty());
    /// ```
    pub fn run_captured(&self, seed: u64) -> Result<RunResult, SimError> {
        sim::run_cast(self.scenario()?, seed, self.plan(seed)?, &self.cast(), true)
    }

    /// Runs every seed of `seeds` (on every core; the report does not depend on how many)
    /// and reports the broken invariants, each with its replay call. The report renders as
    /// JSON (`serde_json`), JUnit ([`crate::format::junit`]) or HTML ([`World::html`]).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset").faults("lossy-network");
    /// let report = world.sweep(0..4);
    /// assert_eq!(report.runs, 4);
    /// ```
    pub fn sweep(&self, seeds: Range<u64>) -> SweepReport {
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.sweep_with(seeds, jobs, None, &sweep::quiet)
    }

    /// [`sweep`](Self::sweep) with a thread count, a shard and a watcher (see
    /// [`crate::sweep::sweep`]).
    ///
    /// ```
    /// use smtpsim::sweep::Shard;
    /// let world = smtpsim::world::World::sim("symantec-rset");
    /// let half = world.sweep_with(0..4, 1, Some(Shard { index: 1, count: 2 }), &|_| true);
    /// assert_eq!(half.runs, 2);
    /// ```
    pub fn sweep_with(
        &self,
        seeds: Range<u64>,
        jobs: usize,
        shard: Option<Shard>,
        watch: &(dyn Fn(&Progress<'_>) -> bool + Sync),
    ) -> SweepReport {
        let faults = self.scenario().map_or("none".into(), |s| s.faults.clone());
        let runs = sweep::Runs {
            label: &self.replay,
            faults: &faults,
            run: &|seed| self.run(seed),
            replay: &|seed| self.replay(seed),
        };
        sweep::sweep_runs(&runs, seeds, jobs, shard, watch)
    }

    /// Shrinks the fault plan of a failing `seed` to the smallest that still breaks the same
    /// invariant; `None` if the seed passes. Replay the result with
    /// [`run_with_plan`](Self::run_with_plan).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset");
    /// assert!(world.shrink(0).unwrap().is_none()); // seed 0 passes
    /// ```
    pub fn shrink(&self, seed: u64) -> Result<Option<Shrunk>, SimError> {
        let run = |plan| self.run_with_plan(seed, plan);
        crate::shrink::shrink_plan(self.plan(seed)?, &run)
    }

    /// The first failing seed of `report` (a sweep of this world) shrunk, and the run of its
    /// smallest plan; `None` if every seed passed.
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset");
    /// let report = world.sweep(0..2);
    /// assert!(world.shrink_first(&report).unwrap().is_none());
    /// ```
    pub fn shrink_first(&self, report: &SweepReport) -> Result<Option<Minimal>, SimError> {
        let Some(seed) = report.violations.first().map(|v| v.seed) else {
            return Ok(None);
        };
        let Some(shrunk) = self.shrink(seed)? else {
            return Err(SimError(format!(
                "seed {seed} failed in the sweep but passes when run again: not deterministic"
            )));
        };
        let run = self.run_with_plan(seed, shrunk.minimal.clone())?;
        Ok(Some(Minimal { seed, shrunk, run }))
    }

    /// The transcripts of `seeds`, one after another, as `smtpsim check` snapshots them: what
    /// to hand `insta::assert_snapshot!` (and review with `cargo insta review`).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset");
    /// let text = world.transcript(&[0]).unwrap();
    /// assert!(text.contains("replay: world.run(0)"));
    /// ```
    pub fn transcript(&self, seeds: &[u64]) -> Result<String, SimError> {
        crate::check::transcript_of(seeds, |seed| self.run(seed)).map_err(SimError)
    }

    /// The sweep's HTML report (as `smtpsim sweep --report` writes it): each failing seed is
    /// run again to draw it.
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("symantec-rset");
    /// let html = world.html(&world.sweep(0..2)).unwrap();
    /// assert!(html.starts_with("<!DOCTYPE html>"));
    /// ```
    pub fn html(&self, report: &SweepReport) -> Result<String, SimError> {
        let scenario = self.scenario()?;
        let replays = crate::format::report::Replays {
            plan: &|seed| self.plan(seed).unwrap_or_default(),
            run: &|seed| self.run(seed),
            replay: &|seed| self.replay(seed),
            shrink: &|seed| format!("{}.shrink({seed})", self.replay),
        };
        Ok(crate::format::report::render_with(
            scenario,
            &self.replay,
            report,
            &replays,
        ))
    }
}

/// A failing seed with its smallest failing plan ([`World::shrink_first`]).
///
/// ```
/// use smtpsim::{sim::byo::Belief, world::World};
/// // A client that claims delivery without sending: every seed fails, with no fault at all.
/// let world = World::sim("passthrough-baseline").client("liar", |c| async move {
///     c.tell(0, Belief::Accepted);
/// });
/// let minimal = world.shrink_first(&world.sweep(0..1)).unwrap().unwrap();
/// assert_eq!((minimal.seed, minimal.shrunk.invariant.as_str()), (0, "silent-loss"));
/// assert!(minimal.shrunk.minimal.events.is_empty());
/// assert!(!minimal.run.report.passed());
/// ```
#[derive(Debug, Clone)]
pub struct Minimal {
    /// The seed.
    pub seed: u64,
    /// What shrinking found (the invariant, the original and the smallest plan).
    pub shrunk: Shrunk,
    /// The run of the smallest plan: what to read, or to snapshot.
    pub run: RunResult,
}
