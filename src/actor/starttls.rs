//! STARTTLS on a recorded connection: the TLS handshake a session asks for, run on the
//! stream under the recorder (so the transcript keeps showing SMTP, marked as protected,
//! while the wire carries TLS records), and what the transcript says about it.

use crate::net;
use crate::tls::MaybeTls;
use crate::transcript::{EventKind, Layer, TlsEvent};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Recorded;

/// Longest a handshake may take (Postfix's `smtpd_starttls_timeout` and
/// `smtp_starttls_timeout`).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(300);

/// A TLS configuration made when a handshake first needs it: a simulation that never starts
/// TLS never pays for certificates and configs.
pub type Lazy<T> = Arc<LazyLock<Arc<T>, Box<dyn FnOnce() -> Arc<T> + Send>>>;

/// A [`Lazy`] made by `make` at first use.
pub fn lazy<T>(make: impl FnOnce() -> Arc<T> + Send + 'static) -> Lazy<T> {
    Arc::new(LazyLock::new(Box::new(make)))
}

/// A [`Lazy`] that is ready now.
pub fn ready<T: Send + Sync + 'static>(value: Arc<T>) -> Lazy<T> {
    lazy(move || value)
}

/// What one actor brings to TLS on its connections.
#[derive(Clone, Default)]
pub struct TlsSetup {
    /// Its side as a TLS server: its certificate (a server; an intercepting proxy toward
    /// the client). None: it cannot start TLS.
    pub acceptor: Option<Lazy<rustls::ServerConfig>>,
    /// Its side as a TLS client (a client; a proxy toward the server), and the name it
    /// expects the server's certificate to carry.
    pub connector: Option<(Lazy<rustls::ClientConfig>, String)>,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup")
            .field("acceptor", &self.acceptor.is_some())
            .field("connector", &self.connector.as_ref().map(|(_, name)| name))
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Recorded<MaybeTls<S>> {
    /// Runs the server side of a TLS handshake with `setup`'s certificate.
    pub async fn accept_tls(&mut self, setup: &TlsSetup) -> Result<(), String> {
        let Some(cfg) = setup.acceptor.as_ref().map(|c| Arc::clone(&**c)) else {
            return self.tls_failed("no certificate on this side".into());
        };
        let handshake =
            tokio::time::timeout(HANDSHAKE_TIMEOUT, self.get_mut().start_server(cfg)).await;
        self.tls_outcome(handshake)
    }

    /// Runs the client side of a TLS handshake with `setup`'s client configuration.
    pub async fn connect_tls(&mut self, setup: &TlsSetup) -> Result<(), String> {
        let Some((cfg, name)) = setup
            .connector
            .as_ref()
            .map(|(c, name)| (Arc::clone(&**c), name.clone()))
        else {
            return self.tls_failed("no TLS client configuration on this side".into());
        };
        let handshake =
            tokio::time::timeout(HANDSHAKE_TIMEOUT, self.get_mut().start_client(cfg, &name)).await;
        self.tls_outcome(handshake)
    }

    fn tls_outcome(
        &mut self,
        handshake: Result<std::io::Result<crate::tls::Handshake>, tokio::time::error::Elapsed>,
    ) -> Result<(), String> {
        match handshake {
            Ok(Ok(done)) => {
                self.record_tls(TlsEvent::Established(done.to_string()));
                self.set_layer(Layer::Tls);
                Ok(())
            }
            Ok(Err(e)) => {
                let why = e.to_string();
                let why = why.trim_start_matches("TLS handshake failed: ").to_string();
                self.tls_failed(why)
            }
            Err(_) => self.tls_failed(format!("timeout after {} s", HANDSHAKE_TIMEOUT.as_secs())),
        }
    }

    fn tls_failed(&mut self, why: String) -> Result<(), String> {
        self.record_tls(TlsEvent::Failed(why.clone()));
        Err(why)
    }
}

impl<S> Recorded<S> {
    /// Records a TLS event of this side toward its peer.
    pub fn record_tls(&self, event: TlsEvent) {
        self.transcript_handle().record(
            net::now(),
            self.conn(),
            self.me(),
            self.peer(),
            EventKind::Tls(event),
        );
    }

    /// From now on this side relays TLS records it cannot read.
    pub fn go_blind(&mut self) {
        self.set_layer(Layer::Opaque);
    }
}
