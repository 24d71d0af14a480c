//! Drives an [`InterceptorSession`] between a client stream and a server stream.

use crate::net;
use crate::proto::interceptor::{InterceptorEvent, InterceptorSession};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::starttls::TlsSetup;
use super::Recorded;
use crate::tls::MaybeTls;

/// Relays one intercepted connection until both sides are closed. `tls`: the interceptor's
/// own certificate toward the client and its TLS client toward the server (TLS inspection).
pub async fn intercept<C, S>(
    mut client: Recorded<MaybeTls<C>>,
    mut server: Recorded<MaybeTls<S>>,
    mut session: InterceptorSession,
    tls: &TlsSetup,
) where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut client_buf = super::read_buffer();
    let mut server_buf = super::read_buffer();
    let (mut client_open, mut server_open) = (true, true);
    let (mut client_shut, mut server_shut) = (false, false);
    loop {
        let now = net::now();
        while let Some(event) = session.poll_event(now) {
            match event {
                InterceptorEvent::ToClient(bytes) if !client_shut => {
                    if client.write_all(&bytes).await.is_err() {
                        client_open = false;
                        session.handle_client_eof(net::now());
                    }
                }
                InterceptorEvent::ToServer(bytes) if !server_shut => {
                    if server.write_all(&bytes).await.is_err() {
                        server_open = false;
                        session.handle_server_eof(net::now());
                    }
                }
                InterceptorEvent::ToClient(_) | InterceptorEvent::ToServer(_) => {}
                InterceptorEvent::Blind => {
                    client.go_blind();
                    server.go_blind();
                }
                InterceptorEvent::TlsToServer => {
                    let result = server.connect_tls(tls).await;
                    session.handle_server_tls(net::now(), result);
                }
                InterceptorEvent::TlsToClient => {
                    let result = client.accept_tls(tls).await;
                    session.handle_client_tls(net::now(), result);
                }
                InterceptorEvent::Note(text) => client.note(text),
                InterceptorEvent::CloseClient => {
                    if !client_shut {
                        client_shut = true;
                        let _ = client.shutdown().await;
                    }
                }
                InterceptorEvent::CloseServer => {
                    if !server_shut {
                        server_shut = true;
                        let _ = server.shutdown().await;
                    }
                }
            }
        }
        if !client_open && !server_open {
            if !client_shut {
                let _ = client.shutdown().await;
            }
            if !server_shut {
                let _ = server.shutdown().await;
            }
            return;
        }
        let deadline = session.poll_timeout();
        tokio::select! {
            read = client.read_buf(&mut client_buf), if client_open => match read {
                Ok(0) | Err(_) => { client_open = false; session.handle_client_eof(net::now()) }
                Ok(_) => { session.handle_client_input(net::now(), &client_buf); client_buf.clear() }
            },
            read = server.read_buf(&mut server_buf), if server_open => match read {
                Ok(0) | Err(_) => { server_open = false; session.handle_server_eof(net::now()) }
                Ok(_) => { session.handle_server_input(net::now(), &server_buf); server_buf.clear() }
            },
            _ = net::sleep_until(deadline.unwrap_or_default()), if deadline.is_some() => {
                session.handle_timeout(net::now());
            }
            else => return,
        }
    }
}
