//! Bring your own implementation: the user's client, server or interceptor as hosts of the
//! simulated world. What their code gets ([`Conn`], [`Client`], [`Mailbox`], [`Upstream`],
//! [`spawn`]) and how it reports to the oracle ([`Belief`], [`Mailbox::store`]); the builder
//! that puts them in a world is [`crate::world`].
//!
//! ```
//! use smtpsim::sim::byo::{Belief, Client};
//! use smtpsim::world::World;
//!
//! // A client that only looks at the banner, and says so.
//! async fn peek(client: Client) {
//!     use tokio::io::AsyncReadExt;
//!     let mut conn = client.connect().await.expect("connected");
//!     let mut banner = [0u8; 64];
//!     let n = conn.read(&mut banner).await.unwrap_or(0);
//!     conn.note(format!("banner of {n} bytes"));
//!     client.tell(0, Belief::GaveUp { reason: "only looked".into() });
//! }
//! let result = World::sim("passthrough-baseline").client("peek", peek).run(0).unwrap();
//! assert!(smtpsim::format::text::render(&result).contains("banner of"));
//! ```

use super::engine::{self, Software};
use super::hosts::{self, OnAccept};
use super::stream::{self, SimStream};
use super::SMTP_PORT;
use crate::actor::{plumbing, Recorded};
use crate::fault::{FaultState, Writer};
use crate::net;
use crate::proto::client::{Message, Outcome, Stage, Status};
use crate::proto::server::Delivery;
use crate::tls::MaybeTls;
use crate::transcript::{EventKind, Transcript};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A boxed future, as the factories return them (they run on the simulation's thread, so
/// they need not be `Send`).
///
/// ```
/// let f: smtpsim::sim::byo::LocalFuture = Box::pin(async {});
/// # drop(f);
/// ```
pub type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;
/// The user's client: called when the client host boots (and again if it restarts).
///
/// ```
/// use std::sync::Arc;
/// let f: smtpsim::sim::byo::ClientFactory = Arc::new(|_client| Box::pin(async {}));
/// # drop(f);
/// ```
pub type ClientFactory = Arc<dyn Fn(Client) -> LocalFuture + Send + Sync>;
/// The user's server: called for every connection it accepts.
///
/// ```
/// use std::sync::Arc;
/// let f: smtpsim::sim::byo::ServerFactory = Arc::new(|_conn, _mailbox| Box::pin(async {}));
/// # drop(f);
/// ```
pub type ServerFactory = Arc<dyn Fn(Conn, Mailbox) -> LocalFuture + Send + Sync>;
/// The user's interceptor: called for every connection it accepts from the client side.
///
/// ```
/// use std::sync::Arc;
/// let f: smtpsim::sim::byo::InterceptorFactory = Arc::new(|_conn, _up| Box::pin(async {}));
/// # drop(f);
/// ```
pub type InterceptorFactory = Arc<dyn Fn(Conn, Upstream) -> LocalFuture + Send + Sync>;

/// Who plays each role of one run: the user's code with its name, or (`None`) the built-in
/// role the scenario describes.
#[derive(Clone, Default)]
pub(crate) struct Cast {
    pub(crate) client: Option<(String, ClientFactory)>,
    pub(crate) server: Option<(String, ServerFactory)>,
    pub(crate) interceptor: Option<(String, InterceptorFactory)>,
    /// The Rust expression of the world, for the replay line (`None`: the CLI's command).
    pub(crate) replay: Option<String>,
}

impl Cast {
    /// The name of a role for the transcript's header: the user's name, or the preset's.
    pub(crate) fn name(role: &Option<(String, impl Sized)>, preset: &str) -> String {
        match role {
            Some((name, _)) => format!("{name} (own code)"),
            None => preset.to_string(),
        }
    }
}

/// What the client's code believes became of one message, as it would tell its caller.
///
/// ```
/// use smtpsim::sim::byo::Belief;
/// use std::time::Duration;
/// let later = Belief::Deferred { next_attempt: Duration::from_secs(300), reason: "421".into() };
/// assert_ne!(later, Belief::Accepted);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Belief {
    /// The server took it (a 250 after the end of data).
    Accepted,
    /// Not delivered yet: still queued, with a next attempt at this time (since the start).
    Deferred {
        /// When the client will try again.
        next_attempt: Duration,
        /// Why (the reply, a timeout, a lost connection).
        reason: String,
    },
    /// Refused for good (a 5xx): returned to the sender.
    Bounced {
        /// Why.
        reason: String,
    },
    /// Not delivered, and the client stopped trying (it told its caller it failed).
    GaveUp {
        /// Why.
        reason: String,
    },
}

impl Belief {
    /// The attempt record the oracle reads, for message `id`.
    fn outcome(self, id: usize) -> Outcome {
        let (status, stage, reason, retry_at) = match self {
            Belief::Accepted => (Status::Accepted, Stage::DataDone, None, None),
            Belief::Deferred {
                next_attempt,
                reason,
            } => (
                Status::Deferred,
                Stage::Unknown,
                Some(reason),
                Some(next_attempt),
            ),
            Belief::Bounced { reason } => (Status::Rejected, Stage::Unknown, Some(reason), None),
            Belief::GaveUp { reason } => (Status::Deferred, Stage::Unknown, Some(reason), None),
        };
        Outcome {
            id,
            status,
            stage,
            reply: None,
            reason,
            to: Vec::new(),
            refused: Vec::new(),
            in_sync_gap: false,
            retry_at,
        }
    }
}

/// A simulated TCP connection as the user's code sees it: `AsyncRead + AsyncWrite` (every
/// byte lands in the transcript, with the scenario's transport faults applied to this side's
/// writes), with its addresses. Only usable inside the simulation it was opened in.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let world = smtpsim::world::World::sim("passthrough-baseline").server("hang-up", |mut conn, _| async move {
///     let peer = conn.peer_addr().expect("an address");
///     conn.note(format!("c{} from {peer}, to {:?}", conn.number(), conn.local_addr()));
///     let _ = conn.write_all(b"554 go away\r\n").await;
///     let _ = conn.read(&mut [0u8; 16]).await;
/// });
/// let text = smtpsim::format::text::render(&world.run(0).unwrap());
/// assert!(text.contains("554 go away"));
/// ```
#[derive(Debug)]
pub struct Conn {
    /// Always `Some` until dropped; dropped only inside its simulation (outside, the world
    /// it belonged to is gone, and its socket with it).
    inner: Option<Recorded<MaybeTls<SimStream>>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !net::in_simulation() {
            std::mem::forget(self.inner.take());
        }
    }
}

impl Conn {
    fn new(inner: Recorded<MaybeTls<SimStream>>) -> Self {
        // The user's code does its own STARTTLS, above the recorder.
        Conn {
            inner: Some(inner.following_starttls()),
        }
    }

    /// The other end's simulated address.
    ///
    /// See [`Conn`]'s example.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.plain()?.peer_addr()
    }

    /// This end's simulated address.
    ///
    /// See [`Conn`]'s example.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.plain()?.local_addr()
    }

    fn recorded(&mut self) -> &mut Recorded<MaybeTls<SimStream>> {
        self.inner.as_mut().expect("present until dropped")
    }

    fn plain(&self) -> io::Result<&SimStream> {
        self.inner
            .as_ref()
            .expect("present until dropped")
            .get_ref()
            .get_ref()
            .ok_or_else(|| io::Error::other("the connection is inside TLS"))
    }

    /// The transcript's number for this connection (`c1`, `c2`, … in the transcript).
    ///
    /// See [`Conn`]'s example.
    pub fn number(&self) -> u32 {
        self.inner.as_ref().map_or(0, |i| i.conn())
    }

    /// Writes a note (a line of the transcript, not on the wire) from this side.
    ///
    /// See [`Conn`]'s example.
    pub fn note(&self, text: impl Into<String>) {
        if let Some(inner) = &self.inner {
            inner.note(text);
        }
    }
}

/// The error of a [`Conn`] used where its simulation is not running (after the run, on
/// another thread).
fn outside() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "this smtpsim connection is used outside the run of its simulated world",
    )
}

/// Polls `f` on the connection, or fails outside its simulation.
macro_rules! inside {
    ($f:expr) => {
        if net::in_simulation() {
            $f
        } else {
            Poll::Ready(Err(outside()))
        }
    };
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        inside!(Pin::new(self.recorded()).poll_read(cx, buf))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        inside!(Pin::new(self.recorded()).poll_write(cx, buf))
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        inside!(Pin::new(self.recorded()).poll_flush(cx))
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        inside!(Pin::new(self.recorded()).poll_shutdown(cx))
    }
}

/// Virtual time since the run started (the run's clock; `tokio::time` follows it too, so
/// `tokio::time::sleep` and `timeout` work in the user's code).
///
/// ```
/// let world = smtpsim::world::World::sim("passthrough-baseline").client("sleeper", |client| async move {
///     tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
///     assert!(smtpsim::sim::byo::now() >= std::time::Duration::from_secs(3600));
///     let _ = client;
/// });
/// assert!(world.run(0).unwrap().elapsed >= std::time::Duration::from_secs(3600));
/// ```
pub fn now() -> Duration {
    net::now()
}

/// What the user's client gets: the scenario's messages, connections to the first hop, and
/// the oracle's ear.
///
/// See the [module's example](self) and [`crate::world::World::client`].
#[derive(Clone)]
pub struct Client {
    messages: Rc<Vec<Message>>,
    target: &'static str,
    transcript: Transcript,
    outcomes: super::client::Outcomes,
    faults: Arc<FaultState>,
    /// The last connection opened (the oracle ties beliefs to it).
    last_conn: Rc<std::cell::Cell<u32>>,
}

impl Client {
    /// The scenario's messages (each with its `id`, envelope, body and `at`, the time it is
    /// handed to the client).
    ///
    /// ```
    /// let world = smtpsim::world::World::sim("passthrough-baseline").client("count", |client| async move {
    ///     assert_eq!(client.messages().len(), 1);
    ///     assert_eq!(client.messages()[0].to, ["bob@example.org", "carol@example.org"]);
    /// });
    /// assert!(world.run(0).unwrap().report.passed());
    /// ```
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Opens a new connection to the first hop (the interceptor if there is one, else the
    /// server). A failure is recorded in the transcript and returned.
    ///
    /// ```
    /// // Two connections, one after the other.
    /// let world = smtpsim::world::World::sim("passthrough-baseline").client("twice", |client| async move {
    ///     for _ in 0..2 {
    ///         drop(client.connect().await.expect("connected"));
    ///     }
    /// });
    /// assert_eq!(world.run(0).unwrap().endpoints.len(), 4); // two client legs, two upstream
    /// ```
    pub async fn connect(&self) -> io::Result<Conn> {
        let stream = match stream::connect(self.target, SMTP_PORT).await {
            Ok(s) => s,
            Err(e) => {
                self.transcript.record(
                    net::now(),
                    0,
                    "client",
                    self.target,
                    EventKind::ConnectFailed(e.to_string()),
                );
                return Err(e);
            }
        };
        let faults = self.faults.transport(Writer::Client, net::now());
        let recorded = plumbing::opened(
            stream,
            &self.transcript,
            "client",
            self.target,
            &faults,
            false,
        );
        self.last_conn.set(recorded.conn());
        Ok(Conn::new(recorded))
    }

    /// Tells the oracle what the client believes became of message `id` (its last word
    /// counts; tell it after every attempt).
    ///
    /// See [`crate::world::World::client`].
    pub fn tell(&self, id: usize, belief: Belief) {
        self.report(belief.outcome(id));
    }

    /// Tells the oracle an attempt's outcome in full (recipients refused, the deciding
    /// reply, RFC 1047's gap): the detailed form of [`tell`](Self::tell).
    ///
    /// ```
    /// use smtpsim::proto::client::{Outcome, Stage, Status};
    /// let world = smtpsim::world::World::sim("passthrough-baseline").client("detailed", |client| async move {
    ///     client.report(Outcome {
    ///         id: 0,
    ///         status: Status::Deferred,
    ///         stage: Stage::DataDone,
    ///         reply: None,
    ///         reason: Some("no reply after the dot".into()),
    ///         to: Vec::new(),
    ///         refused: Vec::new(),
    ///         in_sync_gap: true,
    ///         retry_at: None,
    ///     });
    /// });
    /// let result = world.run(0).unwrap();
    /// assert!(result.report.messages[0].client.contains("RFC 1047"));
    /// ```
    pub fn report(&self, outcome: Outcome) {
        if let Some(at) = outcome.retry_at {
            self.transcript.record(
                net::now(),
                self.last_conn.get(),
                "client",
                "",
                EventKind::Note(format!(
                    "message {} deferred: next attempt at {}",
                    outcome.id + 1,
                    crate::profile::Dur(at).clock()
                )),
            );
        }
        self.outcomes
            .lock()
            .expect("outcomes")
            .push((self.last_conn.get(), outcome));
    }
}

/// Where the user's server puts what it accepted: the oracle compares it with what the client
/// sent and was told.
///
/// See [`crate::world::World::server`].
#[derive(Clone)]
pub struct Mailbox {
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    stored: Arc<AtomicU32>,
    conn: u32,
    transcript: Transcript,
}

impl Mailbox {
    /// Records a message the server accepted: its envelope and its content as read (dot
    /// stuffing undone, lines ending in CRLF). Returns the queue id it was given (`Q1`, …).
    ///
    /// ```
    /// // A server that stores a message nobody sent: the oracle notices.
    /// let world = smtpsim::world::World::sim("passthrough-baseline").server("forger", |_conn, mailbox| async move {
    ///     assert_eq!(mailbox.store("eve@example.org", &["bob@example.org".into()], b"hi\r\n"), "Q1");
    /// });
    /// let result = world.run(0).unwrap();
    /// assert!(result.report.violations.iter().any(|v| v.invariant == "unexpected-delivery"));
    /// ```
    pub fn store(&self, mail_from: &str, rcpt_to: &[String], body: &[u8]) -> String {
        let n = self.stored.fetch_add(1, Ordering::SeqCst) + 1;
        let queue_id = format!("Q{n}");
        self.transcript.record(
            net::now(),
            self.conn,
            "server",
            "",
            EventKind::Note(format!("stored {queue_id} <{mail_from}> -> {rcpt_to:?}")),
        );
        self.deliveries.lock().expect("deliveries").push(Delivery {
            queue_id: queue_id.clone(),
            helo: None,
            mail_from: mail_from.to_string(),
            rcpt_to: rcpt_to.to_vec(),
            body: body.to_vec(),
            size: body.len() as u64,
        });
        queue_id
    }
}

/// The user's interceptor's way to the server.
///
/// See [`crate::world::World::interceptor`].
pub struct Upstream {
    transcript: Transcript,
    faults: Arc<FaultState>,
}

impl Upstream {
    /// Opens a connection to the server (each call a new one).
    ///
    /// See [`crate::world::World::interceptor`].
    pub async fn connect(&self) -> io::Result<Conn> {
        let stream = stream::connect("server", SMTP_PORT).await?;
        let faults = self
            .faults
            .transport(Writer::InterceptorToServer, net::now());
        Ok(Conn::new(plumbing::opened(
            stream,
            &self.transcript,
            "interceptor",
            "server",
            &faults,
            false,
        )))
    }
}

/// A task spawned with [`spawn`] ended without a result: its host crashed, the run ended, it
/// panicked, or it was spawned outside a simulation.
///
/// ```
/// let outside = smtpsim::sim::byo::spawn(async { 1 });
/// let answer = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(outside);
/// assert!(matches!(answer, Err(smtpsim::sim::byo::Cancelled(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled(pub &'static str);

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Cancelled {}

/// The result of a task started with [`spawn`]: await it.
///
/// See [`spawn`].
pub struct JoinHandle<T> {
    rx: Option<tokio::sync::oneshot::Receiver<T>>,
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(Err(Cancelled(
                "spawned outside a simulated host (smtpsim::sim::byo::spawn is for code the \
                 simulation runs)",
            )));
        };
        Pin::new(rx).poll(cx).map(|r| {
            r.map_err(|_| Cancelled("the task ended without a result (its host crashed, the run ended or it panicked)"))
        })
    }
}

/// Spawns `future` on the calling code's simulated host and returns its handle. Unlike
/// `tokio::task::spawn_local`, the task keeps its host: its sockets work, and it is dropped
/// when the host crashes. Outside a simulation the handle answers [`Cancelled`] at once.
///
/// ```
/// use smtpsim::sim::byo;
/// // The server greets from a task of its own, on the same simulated socket.
/// let world = smtpsim::world::World::sim("passthrough-baseline").server("greeter", |conn, _| async move {
///     let task = byo::spawn(async move {
///         use tokio::io::AsyncWriteExt;
///         let mut conn = conn;
///         conn.write_all(b"220 from a task\r\n").await.is_ok()
///     });
///     assert_eq!(task.await, Ok(true));
/// });
/// let text = smtpsim::format::text::render(&world.run(0).unwrap());
/// assert!(text.contains("220 from a task"));
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = caught("a spawned task", async move {
        let _ = tx.send(future.await);
    });
    match engine::try_spawn(task) {
        Ok(()) => JoinHandle { rx: Some(rx) },
        Err(_) => JoinHandle { rx: None },
    }
}

thread_local! {
    /// The panics of the user's code in the run on this thread, in order.
    static PANICS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Forgets earlier panics (a run starts) or takes this run's (it ended).
pub(crate) fn take_panics() -> Vec<String> {
    PANICS.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// `future`, with a panic caught and kept for the report (as `what panicked: …`).
fn caught(what: &'static str, future: impl Future<Output = ()> + 'static) -> LocalFuture {
    let mut future: LocalFuture = Box::pin(future);
    Box::pin(std::future::poll_fn(
        move |cx| match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            future.as_mut().poll(cx)
        })) {
            Ok(poll) => poll,
            Err(panic) => {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".into());
                PANICS.with(|p| p.borrow_mut().push(format!("{what} panicked: {text}")));
                Poll::Ready(())
            }
        },
    ))
}

/// The client host running the user's client.
pub(super) fn client_host(
    factory: ClientFactory,
    target: &'static str,
    shared: &super::Shared,
) -> Software {
    let (transcript, outcomes, faults, done) = (
        shared.transcript.clone(),
        shared.outcomes.clone(),
        shared.faults.clone(),
        shared.client_done.clone(),
    );
    let messages = Rc::new(shared.messages.clone());
    Rc::new(move || {
        let client = Client {
            messages: messages.clone(),
            target,
            transcript: transcript.clone(),
            outcomes: outcomes.clone(),
            faults: faults.clone(),
            last_conn: Rc::default(),
        };
        let factory = factory.clone();
        let done = done.clone();
        let session = caught("the client", async move { factory(client).await });
        Box::pin(async move {
            // Done when it returns or panics; not when its host crashes (it boots again).
            session.await;
            done.set(true);
        })
    })
}

/// The server host running the user's server: the factory per accepted connection.
pub(super) fn server_host(factory: ServerFactory, shared: &super::Shared) -> Software {
    let (transcript, deliveries) = (shared.transcript.clone(), shared.deliveries.clone());
    let stored = Arc::new(AtomicU32::new(0));
    let on_accept: OnAccept = Rc::new(move |conn, _| {
        let mailbox = Mailbox {
            deliveries: deliveries.clone(),
            stored: stored.clone(),
            conn: conn.conn(),
            transcript: transcript.clone(),
        };
        let factory = factory.clone();
        caught("the server", async move {
            factory(Conn::new(conn), mailbox).await;
        })
    });
    hosts::accepting("server", Writer::Server, shared, on_accept)
}

/// The interceptor host running the user's interceptor: the factory per connection from the
/// client side.
pub(super) fn interceptor_host(factory: InterceptorFactory, shared: &super::Shared) -> Software {
    let (transcript, faults) = (shared.transcript.clone(), shared.faults.clone());
    let on_accept: OnAccept = Rc::new(move |conn, _| {
        let upstream = Upstream {
            transcript: transcript.clone(),
            faults: faults.clone(),
        };
        let factory = factory.clone();
        caught("the interceptor", async move {
            factory(Conn::new(conn), upstream).await;
        })
    });
    hosts::accepting(
        "interceptor",
        Writer::InterceptorToClient,
        shared,
        on_accept,
    )
}
