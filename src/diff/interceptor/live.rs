//! The live side of `smtpsim diff --interceptor`: `serve` in this process with the behaviour's
//! server knobs and fault plan, the real proxy started in front of it on loopback, and the
//! behaviour's client session (the same client profile as the simulation's) driven through
//! the proxy on a real socket; both ends' events read as an [`Observation`].

use super::observe::{observe, outcome, Observation};
use super::proxies::{Proxy, Start};
use crate::actor::{self, plumbing, TlsSetup};
use crate::diff::client::live::Serve;
use crate::fault::{FaultPlan, FaultState, Writer};
use crate::net;
use crate::proto::client::ClientSession;
use crate::scenario::Scenario;
use crate::transcript::Transcript;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The longest a client session may take before it is cut (a harness error).
const CLIENT_LIMIT: Duration = Duration::from_secs(60);

/// Runs `scenario` with the proxy at `path` started as `how` says (its port and upstream are
/// chosen here).
pub fn run(
    runtime: &tokio::runtime::Runtime,
    proxy: &dyn Proxy,
    path: &Path,
    scenario: &Scenario,
    how: &Start,
) -> Result<Observation, String> {
    let serve = Serve::start(runtime, "127.0.0.1:0", scenario)?;
    let port = free_port();
    let running = port.and_then(|port| {
        let how = Start {
            port,
            upstream: serve.addr,
            ..*how
        };
        proxy.start(path, &how).map(|r| (port, r))
    });
    let client = running
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|(port, _)| drive(runtime, *port, scenario));
    let mut events = serve.finish(runtime);
    drop(running);
    let (client_events, outcomes) = client?;
    events.extend(client_events);
    events.sort_by_key(|e| e.at);
    Ok(observe(&events, outcome(&outcomes)))
}

/// A loopback port free now.
fn free_port() -> Result<u16, String> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(probe.local_addr().map_err(|e| e.to_string())?.port())
}

/// The scenario's client session through the proxy on `port`: its events and outcomes.
fn drive(
    runtime: &tokio::runtime::Runtime,
    port: u16,
    scenario: &Scenario,
) -> Result<
    (
        Vec<crate::transcript::Event>,
        Vec<crate::proto::client::Outcome>,
    ),
    String,
> {
    let transcript = Transcript::new();
    let faults = FaultState::new(
        FaultPlan {
            events: scenario.fault_events.clone(),
        },
        Duration::MAX,
    );
    let outcomes = runtime.block_on(async {
        let stream = net::live_connect(&format!("127.0.0.1:{port}"))
            .await
            .map_err(|e| format!("connecting to the proxy: {e}"))?;
        let stream = plumbing::opened(
            stream,
            &transcript,
            "client",
            "interceptor",
            &faults.transport(Writer::Client, net::now()),
            true,
        );
        let session = ClientSession::new(
            Arc::new(scenario.client.clone()),
            crate::sim::sent_messages(scenario, scenario.seeds.first().copied().unwrap_or(0)),
            net::now(),
        );
        tokio::time::timeout(
            CLIENT_LIMIT,
            actor::client::drive(stream, session, &TlsSetup::default()),
        )
        .await
        .map_err(|_| format!("the client session still ran after {CLIENT_LIMIT:?}"))
    })?;
    Ok((transcript.events(), outcomes))
}
