//! Drives a [`ServerSession`] over a stream: read, feed, write replies when due, time out.
//! What happens to accepted mail is up to the [`ServerHooks`]: a ledger in the simulation, a
//! Maildir in live mode.

use crate::net;
use crate::proto::server::{Delivery, ServerEvent, ServerSession};
use crate::tls::MaybeTls;
use crate::transcript::{EventKind, TlsEvent};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::starttls::TlsSetup;
use super::Recorded;

/// Where the server's accepted mail goes, per connection.
pub trait ServerHooks {
    /// More content of the message being received (streaming sessions only).
    fn content(&mut self, _bytes: &[u8]) {}
    /// The content received so far is not delivered (streaming sessions only).
    fn discard(&mut self) {}
    /// A message was accepted; called before its 250 is written. An error makes the server
    /// answer with a tempfail instead.
    fn deliver(&mut self, delivery: &Delivery) -> Result<(), String>;
    /// An injected crash after '.': true if the whole host is about to go down (the session
    /// then waits for it); false where the host cannot go down (live mode: the process serves
    /// others), and the connection stands for it: silent until `restart_after`, then closed.
    fn crash(&mut self, restart_after: Duration) -> bool;
}

/// Serves one connection until the session closes or the peer goes away. STARTTLS is
/// offered only when `tls` has a certificate.
pub async fn serve<S, H>(
    mut stream: Recorded<MaybeTls<S>>,
    mut session: ServerSession,
    mut hooks: H,
    tls: TlsSetup,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    H: ServerHooks,
{
    session.set_tls_available(tls.acceptor.is_some());
    let mut buf = vec![0u8; 16 * 1024];
    let mut peer_gone = false;
    // A message the hooks could not store is not acknowledged: its 250 becomes a tempfail.
    let mut store_failed = false;
    loop {
        let now = net::now();
        let mut out = Vec::new();
        let mut close = false;
        while let Some(event) = session.poll_event(now) {
            match event {
                ServerEvent::Reply(reply)
                    if std::mem::take(&mut store_failed) && reply.is_positive() =>
                {
                    let _ = reply;
                    out.extend_from_slice(b"451 4.3.0 Error: queue file write error\r\n");
                }
                ServerEvent::Reply(reply) => out.extend_from_slice(&reply.to_wire()),
                ServerEvent::Content(bytes) => hooks.content(&bytes),
                ServerEvent::Discard => hooks.discard(),
                ServerEvent::Deliver(delivery) => {
                    stream.note_delivery(&delivery);
                    if let Err(e) = hooks.deliver(&delivery) {
                        stream.note(format!(
                            "storing {} failed: {e}; answering 451",
                            delivery.queue_id
                        ));
                        store_failed = true;
                    }
                }
                ServerEvent::Note(text) => stream.note(text),
                ServerEvent::StartTls => {
                    // The 220 goes out in the clear; then the handshake, under the recorder.
                    if !out.is_empty() && stream.write_all(&std::mem::take(&mut out)).await.is_err()
                    {
                        peer_gone = true;
                        session.handle_eof(net::now());
                        continue;
                    }
                    let result = stream.accept_tls(&tls).await;
                    session.handle_tls(net::now(), result);
                }
                ServerEvent::Injected { bytes, executed } => {
                    stream.record_tls(TlsEvent::Injected { bytes, executed })
                }
                ServerEvent::Log(record) => stream.log(record),
                ServerEvent::Close => close = true,
                ServerEvent::Crash(restart_after) => {
                    // The host goes down with this session in it: nothing more is written.
                    if hooks.crash(restart_after) {
                        std::future::pending::<()>().await;
                    }
                    // Live: what the client of a crashed host sees, no reply until the
                    // restart, then a connection that is gone (a close here: the simulated
                    // host's stack answers the next segment with a reset).
                    net::sleep_until(net::now() + restart_after).await;
                    return;
                }
            }
        }
        if !out.is_empty() && !peer_gone && stream.write_all(&out).await.is_err() {
            peer_gone = true;
            session.handle_eof(net::now());
            continue;
        }
        if close {
            let _ = stream.shutdown().await;
            break;
        }
        let deadline = session.poll_timeout();
        if peer_gone && deadline.is_none() {
            break;
        }
        tokio::select! {
            read = stream.read(&mut buf), if !peer_gone => match read {
                Ok(0) | Err(_) => {
                    peer_gone = true;
                    session.handle_eof(net::now());
                }
                Ok(n) => session.handle_input(net::now(), &buf[..n]),
            },
            _ = net::sleep_until(deadline.unwrap_or_default()), if deadline.is_some() => {
                session.handle_timeout(net::now());
            }
        }
    }
}

impl<S> Recorded<S> {
    /// Records a delivery by the server on this connection.
    pub fn note_delivery(&self, d: &Delivery) {
        let kind = EventKind::Delivered {
            queue_id: d.queue_id.clone(),
            mail_from: d.mail_from.clone(),
            rcpt_to: d.rcpt_to.clone(),
            size: d.size as usize,
        };
        self.transcript_handle()
            .record(net::now(), self.conn(), self.me(), "", kind);
    }
}
