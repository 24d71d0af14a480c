//! rustls server and client configs for STARTTLS, and how a client verifies the server.
//!
//! Build configs per run: a config keeps a session cache (the server's stateful tickets, the
//! client's tickets), so one shared by several runs would make a run's handshakes depend on the
//! runs before it. Within a run, reuse is deterministic (a second connection may resume).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use super::identity::Identity;

/// How a client judges the server's certificate.
#[derive(Debug, Clone)]
pub enum Verify {
    /// Accept any certificate, as Postfix's `may` and `encrypt` levels do; the handshake's
    /// signature is still checked against the certificate's key with the provider's algorithms.
    Nothing,
    /// Trust only these anchors, and check that the certificate names the host.
    Roots(Vec<CertificateDer<'static>>),
}

fn time_or_default(time: Option<Arc<dyn TimeProvider>>) -> Arc<dyn TimeProvider> {
    time.unwrap_or_else(|| Arc::new(DefaultTimeProvider))
}

/// A server config presenting `identity`: TLS 1.3 and 1.2, no client certificates, no ALPN.
/// `time` judges ticket ages (the simulation passes its [`super::SimClock`]; `None`: the
/// system clock); `keylog` receives the session secrets.
///
/// Stateful TLS 1.3 session tickets stay on (two per handshake, as rustls's default): their ids
/// and age offsets come from the provider's randomness, seeded in the simulation, and they let a
/// client's next connection in the same run resume. TLS 1.2 session ids likewise.
///
/// # Panics
/// If `identity`'s key does not fit its certificate or the provider cannot use it
/// ([`Identity`]'s constructors check this already).
pub fn server_config(
    identity: &Identity,
    provider: Arc<CryptoProvider>,
    time: Option<Arc<dyn TimeProvider>>,
    keylog: Option<Arc<dyn rustls::KeyLog>>,
) -> Arc<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_details(provider, time_or_default(time))
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("the provider supports TLS 1.3 and 1.2")
        .with_no_client_auth()
        .with_single_cert(identity.chain().to_vec(), identity.key())
        .expect("an identity's key fits its certificate");
    if let Some(keylog) = keylog {
        config.key_log = keylog;
    }
    Arc::new(config)
}

/// A client config verifying the server as `verify` says: TLS 1.3 and 1.2, no client
/// certificate. `time` judges certificate validity (the simulation passes its
/// [`super::SimClock`]; `None`: the system clock); `keylog` receives the session secrets.
pub fn client_config(
    verify: Verify,
    provider: Arc<CryptoProvider>,
    time: Option<Arc<dyn TimeProvider>>,
    keylog: Option<Arc<dyn rustls::KeyLog>>,
) -> Arc<rustls::ClientConfig> {
    let builder =
        rustls::ClientConfig::builder_with_details(provider.clone(), time_or_default(time))
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .expect("the provider supports TLS 1.3 and 1.2");
    let builder = match verify {
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider })),
        Verify::Roots(anchors) => {
            let mut roots = RootCertStore::empty();
            for anchor in anchors {
                // An anchor webpki cannot read trusts nothing; the handshake then says so.
                let _ = roots.add(anchor);
            }
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build();
            match verifier {
                Ok(verifier) => builder.with_webpki_verifier(verifier),
                // No usable anchor: a verifier that trusts nothing.
                Err(_) => builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NoAnchor)),
            }
        }
    };
    let mut config = builder.with_no_client_auth();
    if let Some(keylog) = keylog {
        config.key_log = keylog;
    }
    Arc::new(config)
}

/// Accepts any certificate, but checks the handshake signature against the certificate's key.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `Verify::Roots` with no anchor webpki could read: every certificate is untrusted.
#[derive(Debug)]
struct NoAnchor;

impl ServerCertVerifier for NoAnchor {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Err(Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
