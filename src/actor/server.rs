//! Drives a [`ServerSession`] over a stream: read, feed, write replies when due, time out.

use crate::net;
use crate::proto::server::{Delivery, ServerEvent, ServerSession};
use crate::transcript::EventKind;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Recorded;

/// Receives each message the server accepts (before its 250 is written).
pub type DeliverySink = Arc<dyn Fn(&Delivery) + Send + Sync>;

/// Asked to crash the server host (an injected fault) and restart it after the duration.
pub type CrashSink = Arc<dyn Fn(std::time::Duration) + Send + Sync>;

/// Serves one connection until the session closes or the peer goes away.
pub async fn serve<S>(
    mut stream: Recorded<S>,
    mut session: ServerSession,
    sink: DeliverySink,
    crash: CrashSink,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    let mut peer_gone = false;
    loop {
        let now = net::now();
        let mut out = Vec::new();
        let mut close = false;
        while let Some(event) = session.poll_event(now) {
            match event {
                ServerEvent::Reply(reply) => out.extend_from_slice(&reply.to_wire()),
                ServerEvent::Deliver(delivery) => {
                    stream.note_delivery(&delivery);
                    sink(&delivery);
                }
                ServerEvent::Note(text) => stream.note(text),
                ServerEvent::Close => close = true,
                ServerEvent::Crash(restart_after) => {
                    // The host goes down with this session in it: nothing more is written.
                    crash(restart_after);
                    std::future::pending::<()>().await;
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
            size: d.body.len(),
        };
        self.record_kind(kind);
    }

    fn record_kind(&self, kind: EventKind) {
        self.transcript_handle()
            .record(net::now(), self.conn(), self.me(), "", kind);
    }
}
