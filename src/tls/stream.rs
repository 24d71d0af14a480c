//! [`MaybeTls`]: a connection that is plain until a STARTTLS handshake turns it into TLS, with
//! writes that leave nothing inside rustls (each write is on the inner stream when it returns,
//! one TLS record per write up to 16 KiB) so drivers that never flush still put bytes on the wire.

use std::fmt;
use std::io::{self, IoSlice, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use rustls::{ConnectionCommon, ProtocolVersion, SideData};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::identity::subject_of;

/// A stream that is plain until [`MaybeTls::start_server`] or [`MaybeTls::start_client`].
pub enum MaybeTls<S> {
    /// Before STARTTLS: the bytes as they are.
    Plain(S),
    /// After a server handshake.
    Server(Box<tokio_rustls::server::TlsStream<Coalesce<S>>>, Held),
    /// After a client handshake.
    Client(Box<tokio_rustls::client::TlsStream<Coalesce<S>>>, Held),
    /// A handshake failed: the connection is closed (reads give end of file, writes fail).
    Gone,
}

/// The stream under TLS, taking rustls's queued records (a handshake flight, or a change cipher
/// spec and an alert) as one write: fewer, deterministic segments, and an alert tokio-rustls sends
/// as a last gasp after a failed handshake is not cut off after the first record.
#[derive(Debug)]
pub struct Coalesce<S>(S);

impl<S> Coalesce<S> {
    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.0
    }

    /// The stream underneath, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.0
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let inner = &mut self.get_mut().0;
        if inner.is_write_vectored() {
            return Pin::new(inner).poll_write_vectored(cx, bufs);
        }
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        match (nonempty.next(), nonempty.next()) {
            (None, _) => Poll::Ready(Ok(0)),
            (Some(only), None) => Pin::new(inner).poll_write(cx, only),
            _ => {
                let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
                Pin::new(inner).poll_write(cx, &joined)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// Plaintext a TLS write encrypted but has not yet reported as written, because the inner
/// stream could not take the record yet (the write returned `Pending`; the caller retries
/// with the same bytes, and the retry reports them written once the record is out).
#[derive(Debug, Default)]
pub struct Held(Option<Vec<u8>>);

/// What a completed handshake agreed, for the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The protocol version, e.g. `TLSv1.3`.
    pub version: String,
    /// The cipher suite as IANA names it, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The peer certificate's subject, e.g. `CN=mail.example.org` (none if it sent none or
    /// it has no common name).
    pub peer_subject: Option<String>,
    /// Whether the session was resumed from an earlier one.
    pub resumed: bool,
}

impl fmt::Display for Handshake {
    /// `TLSv1.3 TLS13_AES_256_GCM_SHA384, peer CN=mail.example.org` (`, resumed` if so).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)?;
        if let Some(subject) = &self.peer_subject {
            write!(f, ", peer {subject}")?;
        }
        if self.resumed {
            write!(f, ", resumed")?;
        }
        Ok(())
    }
}

impl Handshake {
    fn of<D: SideData>(conn: &ConnectionCommon<D>) -> Handshake {
        let version = match conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => "unknown".to_string(),
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_else(|| "unknown".to_string());
        let peer_subject = conn
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|leaf| subject_of(leaf));
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        Handshake {
            version,
            cipher,
            peer_subject,
            resumed,
        }
    }
}

/// A failed handshake's error in words a mail administrator understands.
fn explain(err: io::Error) -> io::Error {
    let kind = err.kind();
    let why = match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => explain_tls(tls),
        None if kind == io::ErrorKind::UnexpectedEof => {
            "the peer closed the connection during the handshake".to_string()
        }
        None => err.to_string(),
    };
    io::Error::new(kind, format!("TLS handshake failed: {why}"))
}

fn explain_tls(err: &rustls::Error) -> String {
    use rustls::{CertificateError as C, Error as E};
    match err {
        E::InvalidCertificate(C::UnknownIssuer) => {
            "certificate not trusted: UnknownIssuer".to_string()
        }
        E::InvalidCertificate(e @ (C::NotValidForName | C::NotValidForNameContext { .. })) => {
            format!("certificate does not name the host: {e}")
        }
        E::InvalidCertificate(
            e @ (C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. }),
        ) => format!("certificate expired or not yet valid: {e}"),
        E::InvalidCertificate(e) => format!("certificate rejected: {e}"),
        E::AlertReceived(alert) => format!("the peer refused the handshake (alert {alert:?})"),
        E::PeerIncompatible(why) => format!("no TLS version or cipher in common: {why:?}"),
        E::InvalidMessage(why) => format!("the peer sent something that is not TLS: {why:?}"),
        E::NoCertificatesPresented => "the peer sent no certificate".to_string(),
        other => other.to_string(),
    }
}

/// `io`'s `Pending` as `WouldBlock`, for rustls's synchronous `write_tls`.
struct SyncWriter<'a, 'b, S> {
    io: &'a mut S,
    cx: &'a mut Context<'b>,
}

impl<S: AsyncWrite + Unpin> Write for SyncWriter<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes everything rustls has queued to `io`: `Pending` until all of it is out.
fn drain<S, D>(
    io: &mut S,
    conn: &mut ConnectionCommon<D>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>>
where
    S: AsyncWrite + Unpin,
{
    while conn.wants_write() {
        match conn.write_tls(&mut SyncWriter { io, cx }) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
    Poll::Ready(Ok(()))
}

/// A TLS write that returns `Ready` only once its record is on `io`.
fn write_tls<S, D>(
    io: &mut S,
    conn: &mut ConnectionCommon<D>,
    held: &mut Held,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>>
where
    S: AsyncWrite + Unpin,
{
    // Whatever an earlier write queued goes out first.
    if let Err(e) = std::task::ready!(drain(io, conn, cx)) {
        return Poll::Ready(Err(e));
    }
    if let Some(earlier) = held.0.take() {
        if buf.starts_with(&earlier) {
            return Poll::Ready(Ok(earlier.len()));
        }
        // The caller gave up on that write and writes something else: the earlier bytes went
        // out all the same, as part of a write can on TCP.
    }
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    // With nothing queued, rustls takes up to its 64 KiB buffer: one record per 16 KiB.
    let n = conn.writer().write(buf)?;
    match drain(io, conn, cx) {
        Poll::Ready(Ok(())) => Poll::Ready(Ok(n)),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => {
            held.0 = Some(buf[..n].to_vec());
            Poll::Pending
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection closed after a failed TLS handshake",
    )
}

impl<S> MaybeTls<S> {
    /// Whether a handshake made this stream TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Server(..) | MaybeTls::Client(..))
    }

    /// The stream underneath (`None` after a failed handshake).
    pub fn get_ref(&self) -> Option<&S> {
        match self {
            MaybeTls::Plain(s) => Some(s),
            MaybeTls::Server(tls, _) => Some(tls.get_ref().0.get_ref()),
            MaybeTls::Client(tls, _) => Some(tls.get_ref().0.get_ref()),
            MaybeTls::Gone => None,
        }
    }

    /// The stream underneath, mutably (`None` after a failed handshake).
    pub fn get_mut(&mut self) -> Option<&mut S> {
        match self {
            MaybeTls::Plain(s) => Some(s),
            MaybeTls::Server(tls, _) => Some(tls.get_mut().0.get_mut()),
            MaybeTls::Client(tls, _) => Some(tls.get_mut().0.get_mut()),
            MaybeTls::Gone => None,
        }
    }

    fn take_plain(&mut self) -> io::Result<S> {
        match std::mem::replace(self, MaybeTls::Gone) {
            MaybeTls::Plain(s) => Ok(s),
            MaybeTls::Gone => Err(gone()),
            tls => {
                *self = tls;
                Err(io::Error::other("TLS already active"))
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> MaybeTls<S> {
    /// Runs a server handshake over the plain stream and makes this stream TLS. On failure the
    /// connection is closed ([`MaybeTls::Gone`]) and the error says why (e.g. `TLS handshake
    /// failed: the peer refused the handshake (alert UnknownCA)`). Fails at once if the stream
    /// is already TLS (left as it is) or gone.
    pub async fn start_server(&mut self, cfg: Arc<rustls::ServerConfig>) -> io::Result<Handshake> {
        let plain = self.take_plain()?;
        let tls = tokio_rustls::TlsAcceptor::from(cfg)
            .accept(Coalesce(plain))
            .await
            .map_err(explain)?;
        let handshake = Handshake::of(tls.get_ref().1);
        *self = MaybeTls::Server(Box::new(tls), Held::default());
        Ok(handshake)
    }

    /// Runs a client handshake with `server_name` (a host name, checked against the
    /// certificate if the config verifies, and sent as SNI; or an IP address) over the plain
    /// stream and makes this stream TLS. On failure the connection is closed
    /// ([`MaybeTls::Gone`]) and the error says why (e.g. `TLS handshake failed: certificate not
    /// trusted: UnknownIssuer`). Fails at once if the stream is already TLS or gone, or
    /// `server_name` is no host name.
    pub async fn start_client(
        &mut self,
        cfg: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> io::Result<Handshake> {
        let name = ServerName::try_from(server_name.to_string()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TLS: {server_name:?} is not a host name or IP address"),
            )
        })?;
        let plain = self.take_plain()?;
        let tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, Coalesce(plain))
            .await
            .map_err(explain)?;
        let handshake = Handshake::of(tls.get_ref().1);
        *self = MaybeTls::Client(Box::new(tls), Held::default());
        Ok(handshake)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Server(tls, _) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            MaybeTls::Client(tls, _) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            MaybeTls::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Server(tls, held) => {
                let (io, conn) = tls.get_mut();
                write_tls(io, conn, held, cx, buf)
            }
            MaybeTls::Client(tls, held) => {
                let (io, conn) = tls.get_mut();
                write_tls(io, conn, held, cx, buf)
            }
            MaybeTls::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Server(tls, _) => Pin::new(tls.as_mut()).poll_flush(cx),
            MaybeTls::Client(tls, _) => Pin::new(tls.as_mut()).poll_flush(cx),
            MaybeTls::Gone => Poll::Ready(Ok(())),
        }
    }

    /// Sends TLS's close_notify first, then shuts the inner stream down.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Server(tls, _) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            MaybeTls::Client(tls, _) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            MaybeTls::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl<S> fmt::Debug for MaybeTls<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MaybeTls::Plain(_) => "MaybeTls::Plain",
            MaybeTls::Server(..) => "MaybeTls::Server",
            MaybeTls::Client(..) => "MaybeTls::Client",
            MaybeTls::Gone => "MaybeTls::Gone",
        })
    }
}
