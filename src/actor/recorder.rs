//! A stream wrapper that writes every read, write, close and error into the transcript, with
//! the time it happened. This is where transcripts come from: the bytes an actor really
//! wrote and read, in the chunks it wrote and read them.

use crate::net;
use crate::transcript::{EventKind, Transcript};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, recorded as connection `conn` from `me`'s point of view.
#[derive(Debug)]
pub struct Recorded<S> {
    inner: S,
    transcript: Transcript,
    conn: u32,
    me: String,
    peer: String,
    closed: bool,
}

impl<S> Recorded<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, transcript: Transcript, conn: u32, me: &str, peer: &str) -> Self {
        Recorded {
            inner,
            transcript,
            conn,
            me: me.to_string(),
            peer: peer.to_string(),
            closed: false,
        }
    }

    /// The connection number.
    pub fn conn(&self) -> u32 {
        self.conn
    }

    /// This side's name.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The transcript this stream records into.
    pub fn transcript_handle(&self) -> &Transcript {
        &self.transcript
    }

    /// Records a note from this side of the connection.
    pub fn note(&self, text: impl Into<String>) {
        self.transcript.record(
            net::now(),
            self.conn,
            &self.me,
            "",
            EventKind::Note(text.into()),
        );
    }

    fn record(&self, from_me: bool, kind: EventKind) {
        let (from, to) = if from_me {
            (&self.me, &self.peer)
        } else {
            (&self.peer, &self.me)
        };
        self.transcript
            .record(net::now(), self.conn, from, to, kind);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &result {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                let bytes = buf.filled()[before..].to_vec();
                self.record(false, EventKind::Received(bytes));
            }
            Poll::Ready(Err(e)) => {
                let why = format!("{} saw: {}", self.me, describe(e));
                self.transcript
                    .record(net::now(), self.conn, &self.me, "", EventKind::Reset(why));
            }
            _ => {}
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        match &result {
            Poll::Ready(Ok(n)) if *n > 0 => self.record(true, EventKind::Data(buf[..*n].to_vec())),
            Poll::Ready(Err(e)) => {
                let why = format!("{} write failed: {}", self.me, describe(e));
                self.transcript
                    .record(net::now(), self.conn, &self.me, "", EventKind::Reset(why));
            }
            _ => {}
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        if matches!(result, Poll::Ready(_)) && !self.closed {
            self.closed = true;
            self.record(true, EventKind::Close);
        }
        result
    }
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::BrokenPipe => "broken pipe".into(),
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}
