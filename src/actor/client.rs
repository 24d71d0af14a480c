//! Drives a client session (profile-driven or scripted) over a stream and returns the
//! outcome of every message.

use crate::net;
use crate::proto::client::{ClientEvent, ClientProtocol, Outcome};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::starttls::TlsSetup;
use super::Recorded;
use crate::tls::MaybeTls;

/// Runs one connection to its end; a STARTTLS the session asks for uses `tls`.
pub async fn drive<S, C>(
    mut stream: Recorded<MaybeTls<S>>,
    mut session: C,
    tls: &TlsSetup,
) -> Vec<Outcome>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: ClientProtocol,
{
    let mut outcomes = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut peer_closed = false;
    loop {
        let now = net::now();
        let mut close = false;
        while let Some(event) = session.poll_event(now) {
            match event {
                ClientEvent::Send(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        session.handle_eof(net::now(), "reset while writing");
                    }
                }
                ClientEvent::Outcome(outcome) => outcomes.push(outcome),
                ClientEvent::Note(text) => stream.note(text),
                ClientEvent::Close => close = true,
                ClientEvent::StartTls => {
                    let result = stream.connect_tls(tls).await;
                    session.handle_tls(net::now(), result);
                }
            }
        }
        if close {
            let _ = stream.shutdown().await;
            // Drain until the server closes too, so no unread data turns the close into a reset.
            if !peer_closed {
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                })
                .await;
            }
            return outcomes;
        }
        let deadline = session.poll_timeout();
        tokio::select! {
            read = stream.read(&mut buf), if !peer_closed => match read {
                Ok(0) => { peer_closed = true; session.handle_eof(net::now(), "closed by the server") }
                Err(_) => { peer_closed = true; session.handle_eof(net::now(), "reset") }
                Ok(n) => session.handle_input(net::now(), &buf[..n]),
            },
            _ = net::sleep_until(deadline.unwrap_or_default()), if deadline.is_some() => {
                session.handle_timeout(net::now());
            }
            else => return outcomes,
        }
    }
}
