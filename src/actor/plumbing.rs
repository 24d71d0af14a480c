//! Connection plumbing, written once for the simulation and live mode: naming a connection in
//! the transcript, wrapping it for recording and transport faults, and the interceptor's leg to
//! its upstream with what the client gets when that leg cannot be opened.

use crate::actor::{self, Recorded, TlsSetup};
use crate::fault::FaultEvent;
use crate::net;
use crate::profile::InterceptorConfig;
use crate::proto::interceptor::InterceptorSession;
use crate::tls::MaybeTls;
use crate::transcript::{EventKind, Transcript};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// A connected stream that knows its two addresses.
pub trait Endpoints {
    /// This end.
    fn local_addr(&self) -> io::Result<SocketAddr>;
    /// The other end.
    fn peer_addr(&self) -> io::Result<SocketAddr>;
}

impl Endpoints for net::LiveStream {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        net::LiveStream::local_addr(self)
    }
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        net::LiveStream::peer_addr(self)
    }
}

/// The transcript's number for the connection from `initiator` to `acceptor`: the same for
/// both ends in a log that keeps events (the simulation); live, where only one end records,
/// just the next number (without asking the socket for its addresses).
fn conn_number(
    transcript: &Transcript,
    initiator: impl FnOnce() -> io::Result<SocketAddr>,
    acceptor: impl FnOnce() -> io::Result<SocketAddr>,
) -> u32 {
    if !transcript.keeps_events() {
        return transcript.new_conn();
    }
    match (initiator(), acceptor()) {
        (Ok(i), Ok(a)) => transcript.conn_for(i, a),
        _ => transcript.new_conn(),
    }
}

/// A connection `me` accepted from `peer`: recorded as a connect from `peer`, wrapped for the
/// transcript and for `me`'s transport faults (above STARTTLS, so they see SMTP lines).
pub fn accepted<S: Endpoints>(
    stream: S,
    transcript: &Transcript,
    me: &str,
    peer: &str,
    faults: &[FaultEvent],
) -> Recorded<MaybeTls<S>> {
    let conn = conn_number(transcript, || stream.peer_addr(), || stream.local_addr());
    transcript.record(net::now(), conn, peer, me, EventKind::Connect);
    Recorded::new(MaybeTls::Plain(stream), transcript.clone(), conn, me, peer).with_faults(faults)
}

/// A connection `me` opened to `peer`, wrapped for the transcript and `me`'s transport
/// faults. `record_connect`: whether to record the connect here (false when the acceptor is
/// simulated too and records it as it accepts).
pub fn opened<S: Endpoints>(
    stream: S,
    transcript: &Transcript,
    me: &str,
    peer: &str,
    faults: &[FaultEvent],
    record_connect: bool,
) -> Recorded<MaybeTls<S>> {
    let conn = conn_number(transcript, || stream.local_addr(), || stream.peer_addr());
    if record_connect {
        transcript.record(net::now(), conn, me, peer, EventKind::Connect);
    }
    Recorded::new(MaybeTls::Plain(stream), transcript.clone(), conn, me, peer).with_faults(faults)
}

/// How the interceptor's upstream leg is opened and wrapped.
pub struct Upstream<C, F> {
    /// Opens the connection to the server.
    pub connect: C,
    /// The interceptor's transport faults toward the server, asked for once the leg is open
    /// (connections are counted as they open).
    pub faults: F,
    /// Record the connect here (the server is not simulated).
    pub record_connect: bool,
}

/// Runs one interceptor session: opens the upstream leg and relays between the legs. When the
/// upstream cannot be opened, the client gets the interceptor's `upstream_failure_reply` (if
/// any) and a close.
pub async fn intercept<S, U, C, F>(
    client_side: Recorded<MaybeTls<S>>,
    upstream: Upstream<C, F>,
    cfg: Arc<InterceptorConfig>,
    tls: &TlsSetup,
    transcript: &Transcript,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin + Endpoints,
    C: Future<Output = io::Result<U>>,
    F: FnOnce() -> Vec<FaultEvent>,
{
    match upstream.connect.await {
        Ok(stream) => {
            let server_side = opened(
                stream,
                transcript,
                "interceptor",
                "server",
                &(upstream.faults)(),
                upstream.record_connect,
            );
            let session = InterceptorSession::new(cfg, net::now());
            actor::interceptor::intercept(client_side, server_side, session, tls).await;
        }
        Err(e) => {
            transcript.record(
                net::now(),
                client_side.conn(),
                "interceptor",
                "server",
                EventKind::ConnectFailed(e.to_string()),
            );
            let mut client_side = client_side;
            if !cfg.upstream_failure_reply.is_empty() {
                let reply = format!("{}\r\n", cfg.upstream_failure_reply);
                let _ = client_side.write_all(reply.as_bytes()).await;
            }
            let _ = client_side.shutdown().await;
        }
    }
}
