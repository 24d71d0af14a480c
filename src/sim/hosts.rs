//! The server and interceptor hosts of a simulated world: accept loops that wrap each
//! connection for the transcript and its faults, and run the same sessions as live mode.

use crate::actor::plumbing::{self, Upstream};
use crate::actor::{self, Recorded, TlsSetup};
use crate::fault::{Host, Writer};
use crate::net;
use crate::proto::server::{Delivery, ServerSession};
use crate::scenario::Scenario;
use crate::tls::MaybeTls;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::engine::{self, Software};
use super::stream::{self, SimStream};
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

/// What a host does with a connection it accepted (recorded, with its transport faults)
/// from the peer at an address: the session, run as its own task.
pub(super) type OnAccept =
    Rc<dyn Fn(Recorded<MaybeTls<SimStream>>, SocketAddr) -> Pin<Box<dyn Future<Output = ()>>>>;

/// A host's software that accepts connections as `me`, each wrapped for the transcript and
/// `writer`'s transport faults, its session spawned and counted open until it ends.
pub(super) fn accepting(
    me: &'static str,
    writer: Writer,
    shared: &super::Shared,
    on_accept: OnAccept,
) -> Software {
    let (transcript, open, faults) = (
        shared.transcript.clone(),
        shared.open_sessions.clone(),
        shared.faults.clone(),
    );
    Rc::new(move || {
        let (transcript, open, faults, on_accept) = (
            transcript.clone(),
            open.clone(),
            faults.clone(),
            on_accept.clone(),
        );
        Box::pin(async move {
            let Ok(listener) = stream::listen(SMTP_PORT).await else {
                return;
            };
            while let Ok((stream, peer)) = listener.accept().await {
                let stream = plumbing::accepted(
                    stream,
                    &transcript,
                    me,
                    role_of_peer(&peer),
                    &faults.transport(writer, net::now()),
                );
                let guard = SessionGuard::new(&open);
                let session = on_accept(stream, peer);
                engine::spawn(async move {
                    session.await;
                    drop(guard);
                });
            }
        })
    })
}

/// The server host's software: an accept loop, one server session per connection.
pub(super) fn server(
    scenario: &Scenario,
    queue_salt: u64,
    shared: &super::Shared,
    tls: &TlsSetup,
) -> Software {
    let mutant = shared.mutant;
    let cfg = Arc::new(scenario.server.clone());
    let tls = tls.clone();
    let (deliveries, faults) = (shared.deliveries.clone(), shared.faults.clone());
    let accepted = Arc::new(AtomicU64::new(0));
    let on_accept: OnAccept = Rc::new(move |stream, peer| {
        let n = accepted.fetch_add(1, Ordering::SeqCst) + 1;
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
        Box::pin(actor::server::serve(stream, session, hooks, tls.clone()))
    });
    accepting("server", Writer::Server, shared, on_accept)
}

/// The interceptor host's software: an accept loop, one upstream connection and interceptor
/// session per client connection.
pub(super) fn interceptor(
    cfg: &crate::profile::InterceptorConfig,
    shared: &super::Shared,
    tls: &TlsSetup,
) -> Software {
    let cfg = Arc::new(cfg.clone());
    let (transcript, faults) = (shared.transcript.clone(), shared.faults.clone());
    let tls = tls.clone();
    let on_accept: OnAccept = Rc::new(move |client_side, _| {
        let (cfg, transcript, faults) = (cfg.clone(), transcript.clone(), faults.clone());
        let tls = tls.clone();
        Box::pin(async move {
            let upstream = Upstream {
                connect: stream::connect("server", SMTP_PORT),
                faults: || faults.transport(Writer::InterceptorToServer, net::now()),
                record_connect: false,
            };
            plumbing::intercept(client_side, upstream, cfg, &tls, &transcript).await;
        })
    });
    accepting(
        "interceptor",
        Writer::InterceptorToClient,
        shared,
        on_accept,
    )
}

/// Which simulated host an address belongs to.
fn role_of_peer(peer: &std::net::SocketAddr) -> &'static str {
    if turmoil_net::lookup_host("interceptor") == Some(peer.ip()) {
        "interceptor"
    } else {
        "client"
    }
}
