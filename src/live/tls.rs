//! TLS for live mode: `serve --tls` (a certificate made at start, or `--cert/--key`) and the
//! proxy's own certificate for TLS inspection, with the operating system's randomness.

use crate::actor::starttls::ready;
use crate::actor::TlsSetup;
use crate::tls::{self, Identity, Verify};
use std::path::Path;

/// `serve`'s TLS side: none without `--tls`/`--cert`; else the given certificate, or one
/// made now for `hostname` (ECDSA P-256, signed by a CA made now).
pub fn server_setup(
    enabled: bool,
    cert: Option<&Path>,
    key: Option<&Path>,
    hostname: &str,
) -> Result<(TlsSetup, Option<String>), String> {
    let identity = match (cert, key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)?,
        (None, None) if enabled => Identity::generated(hostname),
        (None, None) => return Ok((TlsSetup::default(), None)),
        _ => return Err("--cert and --key go together".into()),
    };
    let what = format!("STARTTLS with {}", identity.subject);
    let acceptor = tls::server_config(&identity, tls::live_provider(), None, None);
    Ok((
        TlsSetup {
            acceptor: Some(ready(acceptor)),
            connector: None,
        },
        Some(what),
    ))
}

/// The proxy's TLS sides: its own certificate for the upstream's name toward clients (used
/// by `starttls = "intercept"`), and a client toward the upstream that accepts any
/// certificate.
pub fn proxy_setup(upstream: &str) -> TlsSetup {
    let host = upstream
        .rsplit_once(':')
        .map_or(upstream, |(host, _)| host)
        .trim_matches(['[', ']']);
    let identity = Identity::generated(host);
    let provider = tls::live_provider();
    TlsSetup {
        acceptor: Some(ready(tls::server_config(
            &identity,
            provider.clone(),
            None,
            None,
        ))),
        connector: Some((
            ready(tls::client_config(Verify::Nothing, provider, None, None)),
            host.to_string(),
        )),
    }
}
