//! A run's TLS material, all of it from the seed: the server's certificate authority and
//! certificate, the interceptor's own authority (for TLS inspection), each actor's TLS
//! configuration, and the key log. The handshakes' randomness is the `Tls` stream of the
//! seed, installed on the run's thread for the length of the run.

use crate::actor::starttls::lazy;
use crate::actor::TlsSetup;
use crate::proto::client::TlsPolicy;
use crate::scenario::Scenario;
use crate::seeds::{self, Stream};
use crate::tls::{self, Identity, KeyLogLines, SimClock, Verify};
use std::sync::{Arc, LazyLock};

use super::EPOCH_SECS;

/// The name of the authority that issues the simulated server's certificate.
pub const SERVER_CA: &str = "smtpsim Mail CA";
/// The name of the interceptor's own authority (TLS inspection).
pub const INTERCEPTOR_CA: &str = "smtpsim Interceptor CA";

/// Each actor's TLS side for one run, and the run's key log.
pub struct RunTls {
    /// The server: its certificate.
    pub server: TlsSetup,
    /// The interceptor: its own certificate for the server's name, toward the client, and a
    /// client toward the server that accepts any certificate.
    pub interceptor: TlsSetup,
    /// The client: its policy's verification.
    pub client: TlsSetup,
    /// Every session secret of the run (SSLKEYLOGFILE lines).
    pub keylog: KeyLogLines,
}

impl RunTls {
    /// The material of `scenario` at `seed`; installs the handshakes' randomness on this
    /// thread (until [`RunTls::finish`]).
    pub fn new(scenario: &Scenario, seed: u64) -> RunTls {
        tls::random::seed_thread(seeds::rng(seed, Stream::Tls));
        let host = scenario.server.hostname.clone();
        // Each identity from its own stream, so the order of first use changes nothing.
        let identity = |stream, ca: &'static str, host: String| {
            Arc::new(LazyLock::new(move || {
                Identity::seeded(&mut seeds::rng(seed, stream), ca, &host, EPOCH_SECS)
            }))
        };
        let server_id = identity(Stream::Certificates, SERVER_CA, host.clone());
        let interceptor_id = identity(
            Stream::InterceptorCertificates,
            INTERCEPTOR_CA,
            host.clone(),
        );
        let keylog = KeyLogLines::new();
        let provider = tls::seeded_provider();
        let clock = || -> Option<Arc<dyn rustls::time_provider::TimeProvider>> {
            Some(Arc::new(SimClock {
                epoch_secs: EPOCH_SECS,
            }))
        };
        let log = {
            let keylog = keylog.clone();
            move || -> Option<Arc<dyn rustls::KeyLog>> { Some(Arc::new(keylog.clone())) }
        };
        let acceptor = |id: &Arc<LazyLock<Identity, _>>| {
            let (id, provider, log) = (id.clone(), provider.clone(), log.clone());
            lazy(move || tls::server_config(&id, provider, clock(), log()))
        };
        let verify = scenario.client.tls == TlsPolicy::Verify;
        let trust_interceptor = scenario.client.trust_interceptor_ca;
        let client_connector = {
            let (server_id, interceptor_id) = (server_id.clone(), interceptor_id.clone());
            let (provider, log) = (provider.clone(), log.clone());
            lazy(move || {
                let check = if verify {
                    let mut anchors = vec![server_id.ca().clone()];
                    if trust_interceptor {
                        anchors.push(interceptor_id.ca().clone());
                    }
                    Verify::Roots(anchors)
                } else {
                    Verify::Nothing
                };
                tls::client_config(check, provider, clock(), log())
            })
        };
        let interceptor_connector = {
            let (provider, log) = (provider.clone(), log.clone());
            lazy(move || tls::client_config(Verify::Nothing, provider, clock(), log()))
        };
        RunTls {
            server: TlsSetup {
                acceptor: Some(acceptor(&server_id)),
                connector: None,
            },
            interceptor: TlsSetup {
                acceptor: Some(acceptor(&interceptor_id)),
                connector: Some((interceptor_connector, host.clone())),
            },
            client: TlsSetup {
                acceptor: None,
                connector: Some((client_connector, host)),
            },
            keylog,
        }
    }

    /// The run is over: the thread's TLS randomness is removed.
    pub fn finish(&self) -> Vec<String> {
        tls::random::clear_thread();
        self.keylog.lines()
    }
}
