//! A run's TLS material, all of it from the seed: the server's certificate authority and
//! certificate, the interceptor's own authority (for TLS inspection), each actor's TLS
//! configuration, and the key log. The handshakes' randomness is the `Tls` stream of the
//! seed, installed on the run's thread for the length of the run.

use crate::actor::TlsSetup;
use crate::proto::client::TlsPolicy;
use crate::scenario::Scenario;
use crate::seeds::{self, Stream};
use crate::tls::{self, Identity, KeyLogLines, SimClock, Verify};
use std::sync::Arc;

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
        let mut rng = seeds::rng(seed, Stream::Certificates);
        let host = scenario.server.hostname.clone();
        let server_id = Identity::seeded(&mut rng, SERVER_CA, &host, EPOCH_SECS);
        let interceptor_id = Identity::seeded(&mut rng, INTERCEPTOR_CA, &host, EPOCH_SECS);
        tls::random::seed_thread(seeds::rng(seed, Stream::Tls));
        let keylog = KeyLogLines::new();
        let provider = tls::seeded_provider();
        let clock = || -> Option<Arc<dyn rustls::time_provider::TimeProvider>> {
            Some(Arc::new(SimClock {
                epoch_secs: EPOCH_SECS,
            }))
        };
        let log = || -> Option<Arc<dyn rustls::KeyLog>> { Some(Arc::new(keylog.clone())) };
        let acceptor = |id: &Identity| tls::server_config(id, provider.clone(), clock(), log());
        let connector = |verify: Verify| {
            let cfg = tls::client_config(verify, provider.clone(), clock(), log());
            Some((cfg, host.clone()))
        };
        let client_verify = if scenario.client.tls == TlsPolicy::Verify {
            let mut anchors = vec![server_id.ca().clone()];
            if scenario.client.trust_interceptor_ca {
                anchors.push(interceptor_id.ca().clone());
            }
            Verify::Roots(anchors)
        } else {
            Verify::Nothing
        };
        RunTls {
            server: TlsSetup {
                acceptor: Some(acceptor(&server_id)),
                connector: None,
            },
            interceptor: TlsSetup {
                acceptor: Some(acceptor(&interceptor_id)),
                connector: connector(Verify::Nothing),
            },
            client: TlsSetup {
                acceptor: None,
                connector: connector(client_verify),
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
