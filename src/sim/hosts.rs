//! The server and interceptor hosts of a simulated world: accept loops that wrap each
//! connection for the transcript and its faults, and run the same sessions as live mode.

use crate::actor::plumbing::{self, Upstream};
use crate::actor::{self, TlsSetup};
use crate::fault::{Host, Writer};
use crate::net;
use crate::proto::server::{Delivery, ServerSession};
use crate::scenario::Scenario;
use crate::transcript::Transcript;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::engine::{self, Software};
use super::stream;
use super::SMTP_PORT;
use crate::fault::FaultState;
use std::rc::Rc;

/// The simulated server's mail store: a shared ledger that survives crashes (queued mail is
/// on disk), and crash requests passed to the step loop.
struct SimStore {
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    faults: Arc<FaultState>,
    mutant: Option<super::Mutant>,
}

impl actor::server::ServerHooks for SimStore {
    fn deliver(&mut self, delivery: &Delivery) -> Result<(), String> {
        self.deliveries
            .lock()
            .expect("deliveries")
            .extend(super::mutant::stored(self.mutant, delivery));
        Ok(())
    }

    fn crash(&mut self, restart_after: Duration) -> bool {
        self.faults
            .crash_requests
            .lock()
            .expect("crash requests")
            .push((Host::Server, restart_after));
        true
    }
}

/// Decrements the open-session count when a session ends, however it ends (a crashed host
/// drops its tasks).
struct SessionGuard(Arc<AtomicUsize>);

impl SessionGuard {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        SessionGuard(count.clone())
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The server host's software: an accept loop, one server session per connection.
pub(super) fn server(
    scenario: &Scenario,
    queue_salt: u64,
    shared: &super::Shared,
    tls: &TlsSetup,
) -> Software {
    let super::Shared {
        transcript,
        deliveries,
        open_sessions: open,
        faults,
        mutant,
        ..
    } = shared;
    let mutant = *mutant;
    let cfg = Arc::new(scenario.server.clone());
    let tls = tls.clone();
    let (transcript, deliveries, open, faults) = (
        transcript.clone(),
        deliveries.clone(),
        open.clone(),
        faults.clone(),
    );
    let accepted = Arc::new(AtomicU64::new(0));
    Rc::new(move || {
        let (cfg, transcript, deliveries, open, faults, accepted, tls) = (
            cfg.clone(),
            transcript.clone(),
            deliveries.clone(),
            open.clone(),
            faults.clone(),
            accepted.clone(),
            tls.clone(),
        );
        Box::pin(async move {
            let Ok(listener) = stream::listen(SMTP_PORT).await else {
                return;
            };
            while let Ok((stream, peer)) = listener.accept().await {
                let n = accepted.fetch_add(1, Ordering::SeqCst) + 1;
                let stream = plumbing::accepted(
                    stream,
                    &transcript,
                    "server",
                    role_of_peer(&peer),
                    &faults.transport(Writer::Server, net::now()),
                );
                let session = ServerSession::with_faults(
                    cfg.clone(),
                    &peer.ip().to_string(),
                    net::now(),
                    queue_salt ^ n,
                    faults.server_session(),
                );
                let hooks = SimStore {
                    deliveries: deliveries.clone(),
                    faults: faults.clone(),
                    mutant,
                };
                let guard = SessionGuard::new(&open);
                let tls = tls.clone();
                engine::spawn(async move {
                    actor::server::serve(stream, session, hooks, tls).await;
                    drop(guard);
                });
            }
        })
    })
}

/// The interceptor host's software: an accept loop, one upstream connection and interceptor
/// session per client connection.
pub(super) fn interceptor(
    cfg: &crate::profile::InterceptorConfig,
    transcript: &Transcript,
    open: &Arc<AtomicUsize>,
    faults: &Arc<FaultState>,
    tls: &TlsSetup,
) -> Software {
    let cfg = Arc::new(cfg.clone());
    let (transcript, open, faults) = (transcript.clone(), open.clone(), faults.clone());
    let tls = tls.clone();
    Rc::new(move || {
        let (cfg, transcript, open, faults, tls) = (
            cfg.clone(),
            transcript.clone(),
            open.clone(),
            faults.clone(),
            tls.clone(),
        );
        Box::pin(async move {
            let Ok(listener) = stream::listen(SMTP_PORT).await else {
                return;
            };
            while let Ok((downstream, peer)) = listener.accept().await {
                let client_side = plumbing::accepted(
                    downstream,
                    &transcript,
                    "interceptor",
                    role_of_peer(&peer),
                    &faults.transport(Writer::InterceptorToClient, net::now()),
                );
                let (cfg, transcript, faults) = (cfg.clone(), transcript.clone(), faults.clone());
                let tls = tls.clone();
                let guard = SessionGuard::new(&open);
                engine::spawn(async move {
                    let upstream = Upstream {
                        connect: stream::connect("server", SMTP_PORT),
                        faults: || faults.transport(Writer::InterceptorToServer, net::now()),
                        record_connect: false,
                    };
                    plumbing::intercept(client_side, upstream, cfg, &tls, &transcript).await;
                    drop(guard);
                });
            }
        })
    })
}

/// Which simulated host an address belongs to.
fn role_of_peer(peer: &std::net::SocketAddr) -> &'static str {
    if turmoil_net::lookup_host("interceptor") == Some(peer.ip()) {
        "interceptor"
    } else {
        "client"
    }
}
