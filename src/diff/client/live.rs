//! The live side of `smtpsim diff --client`: `serve` in this process on a free loopback
//! port, with the behaviour's server knobs and fault plan, and the real program sent one
//! message to it; what serve saw, read as an [`Observation`].

use super::behaviour::BODY;
use super::observe::{observe, Observation};
use super::programs::{Program, Send};
use crate::scenario::Scenario;
use crate::transcript::{Event, EventKind};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long serve's sessions get to end after the program has exited.
const SETTLE: Duration = Duration::from_secs(5);

/// Runs a behaviour's `scenario` (its server, fault plan and first message's envelope) with
/// the program at `path`, serve listening on `listen`; `dir` is a fresh directory for the
/// program's files.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    listen: &str,
    program: &dyn Program,
    path: &Path,
    scenario: &Scenario,
    dir: &Path,
) -> Result<Observation, String> {
    let message = scenario
        .messages
        .first()
        .ok_or("the behaviour has no [[client.message]]")?;
    let serve = Serve::start(runtime, listen, scenario)?;
    let sent = program.send(
        path,
        &Send {
            port: serve.addr.port(),
            dir,
            from: &message.from,
            to: &message.to,
            body: BODY,
        },
    );
    let events = serve.finish(runtime);
    Ok(observe(&events, sent?))
}

/// `serve` in this process with a behaviour's server knobs and fault plan, its events kept.
pub struct Serve {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    events: Arc<Mutex<Vec<Event>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Serve {
    /// Starts serve on `listen` (STARTTLS with a certificate made now when the scenario's
    /// server offers it).
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        listen: &str,
        scenario: &Scenario,
    ) -> Result<Serve, String> {
        let listener = runtime
            .block_on(crate::net::live_listen(listen))
            .map_err(|e| format!("serve: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let tls = if scenario
            .server
            .ehlo_keywords
            .iter()
            .any(|k| k == "STARTTLS")
        {
            crate::live::tls::server_setup(true, None, None, &scenario.server.hostname)?.0
        } else {
            crate::actor::TlsSetup::default()
        };
        let opts = crate::live::ServeOptions {
            listen: addr.to_string(),
            profile: scenario.server_profile.clone(),
            server: scenario.server.clone(),
            maildir: None,
            faults: crate::fault::FaultPlan {
                events: scenario.fault_events.clone(),
            },
            seed: scenario.seeds.first().copied().unwrap_or(0),
            record: None,
            record_exact: false,
            server_overrides: toml::Table::new(),
            format: crate::format::LiveFormat::Text,
            max_connections: usize::MAX,
            tls,
            tls_about: None,
        };
        let events: Arc<Mutex<Vec<Event>>> = Arc::default();
        let sink = events.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = runtime.spawn(crate::live::serve_observed(
            listener,
            opts,
            Box::new(move |e| sink.lock().expect("events").push(e.clone())),
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Serve {
            addr,
            events,
            stop,
            server,
        })
    }

    /// Waits for its sessions to end (or [`SETTLE`]), stops it: every event it recorded.
    pub fn finish(self, runtime: &tokio::runtime::Runtime) -> Vec<Event> {
        settle(&self.events);
        let _ = self.stop.send(());
        let _ = runtime.block_on(self.server);
        let events = std::mem::take(&mut *self.events.lock().expect("events"));
        events
    }
}

/// Waits until every connection serve accepted has closed (or [`SETTLE`]).
fn settle(events: &Mutex<Vec<Event>>) {
    let started = Instant::now();
    while started.elapsed() < SETTLE {
        let open = {
            let events = events.lock().expect("events");
            let mut conns = std::collections::BTreeSet::new();
            for e in events.iter() {
                match e.kind {
                    EventKind::Connect => {
                        conns.insert(e.conn);
                    }
                    EventKind::Close | EventKind::Reset(_) if e.from == "server" => {
                        conns.remove(&e.conn);
                    }
                    _ => {}
                }
            }
            conns.len()
        };
        if open == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
