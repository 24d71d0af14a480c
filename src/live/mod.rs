//! Live mode: the same sessions and drivers as the simulation, on real sockets. `serve` is a
//! real SMTP server with any server profile (optionally storing mail in a Maildir and drawing
//! application faults from a seed); `proxy` is a real interceptor in front of a real server.

pub mod maildir;
pub mod output;
pub mod record;
pub mod tls;

use crate::actor;
use crate::actor::plumbing::{self, Upstream};
use crate::fault::FaultState;
use crate::fault::{FaultPlan, Writer};
use crate::net;
use crate::profile::{InterceptorConfig, ServerConfig};
use crate::proto::server::ServerSession;
use crate::transcript::{EventKind, Transcript};
use maildir::Maildir;
use std::future::Future;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// The host name in the proxy's mail log lines.
const PROXY_LOG_HOST: &str = "proxy";

/// How long sessions get to finish after a shutdown request before they are cut.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What `smtpsim serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub listen: String,
    /// Server profile name (for the banner line).
    pub profile: String,
    /// Server knobs.
    pub server: ServerConfig,
    /// Store accepted mail here.
    pub maildir: Option<PathBuf>,
    /// Faults drawn from the seed (transport and application events only).
    pub faults: FaultPlan,
    /// The seed (queue ids, faults).
    pub seed: u64,
    /// Write each client's session as a replayable scenario here.
    pub record: Option<PathBuf>,
    /// Record every read as its own step and every pause as measured (loopback jitter too).
    pub record_exact: bool,
    /// The knobs given on the command line (written into recorded scenarios).
    pub server_overrides: toml::Table,
    /// What is printed on stdout.
    pub format: crate::format::LiveFormat,
    /// Sessions at once; a client beyond them gets a 421 and a close.
    pub max_connections: usize,
    /// STARTTLS: offered only with a certificate.
    pub tls: crate::actor::TlsSetup,
    /// What the listening line says about STARTTLS (e.g. its certificate's subject).
    pub tls_about: Option<String>,
}

/// What `smtpsim proxy` runs.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Address to listen on.
    pub listen: String,
    /// The real server behind the proxy.
    pub upstream: String,
    /// Interceptor profile name.
    pub profile: String,
    /// Interceptor knobs.
    pub interceptor: InterceptorConfig,
    /// Sessions at once; a client beyond them gets a 421 and a close.
    pub max_connections: usize,
    /// What is printed on stdout.
    pub format: crate::format::LiveFormat,
    /// Connect to `upstream` once at start (and close at once) to warn of a wrong address.
    pub probe: bool,
}

/// The "listening on" line: first on stdout in text mode; on stderr otherwise, so that
/// stdout stays pure JSON Lines or mail log.
fn announce(line: &str, format: crate::format::LiveFormat) {
    if format.owns_stdout() {
        eprintln!("{line}");
        return;
    }
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Opens the Maildir and clears the partial messages a killed server left in `tmp/`, saying
/// so on stderr (they were never acknowledged: their clients were told nothing or a 4xx).
fn open_maildir(path: &std::path::Path) -> io::Result<Arc<Maildir>> {
    let maildir = Maildir::create(path)?;
    let removed = maildir.remove_stale()?;
    if !removed.is_empty() {
        eprintln!(
            "smtpsim serve: removed {} incomplete message(s) left in {} by a server that stopped mid-message: {}",
            removed.len(),
            path.join("tmp").display(),
            removed.join(", ")
        );
    }
    Ok(maildir)
}

/// Runs a live server until `shutdown` completes, then lets sessions finish (up to
/// [`SHUTDOWN_GRACE`]) and cuts the rest; a cut session leaves nothing in the Maildir.
pub async fn serve(opts: ServeOptions, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let listener = listen(&opts.listen).await?;
    let local = listener.local_addr()?;
    let maildir =
        match opts.maildir.as_deref() {
            Some(path) => Some(open_maildir(path).map_err(|e| {
                io::Error::new(e.kind(), format!("--maildir {}: {e}", path.display()))
            })?),
            None => None,
        };
    let domains = if opts.server.local_domains.iter().any(|d| d == "*") {
        " · any recipient domain is local (set local_domains or mailboxes for relay and user checks)"
    } else {
        ""
    };
    announce(&format!(
        "# smtpsim serve: listening on {local} · profile {} · maildir {} · seed {} · {} fault events · {}{domains}",
        opts.profile,
        opts.maildir.as_ref().map_or("none".to_string(), |p| p.display().to_string()),
        opts.seed,
        opts.faults.events.len(),
        opts.tls_about.as_deref().unwrap_or("no STARTTLS (--tls to offer it)"),
    ), opts.format);
    printed(opts.format, |transcript| {
        run_server(listener, opts, maildir, transcript, shutdown)
    })
    .await
}

/// Runs `body` with a transcript printed on stdout in `format`, writing what is left at the end.
async fn printed<F: Future>(
    format: crate::format::LiveFormat,
    body: impl FnOnce(Transcript) -> F,
) -> F::Output {
    let output = output::Output::stdout(format);
    let flusher = tokio::spawn(output.clone().keep_flushing());
    let result = body(output.transcript()).await;
    flusher.abort();
    output.flush();
    result
}

/// A server as [`serve`] runs it, on a listener the caller bound, printing nothing and storing
/// nothing (`smtpsim diff`'s side of the comparison).
pub async fn serve_quietly(
    listener: net::LiveListener,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    run_server(listener, opts, None, Transcript::unheard(), shutdown).await
}

/// [`serve_quietly`], handing every transcript event to `sink` (`smtpsim diff --client`
/// reads the commands a real client sent, and how they arrived, from them).
pub async fn serve_observed(
    listener: net::LiveListener,
    opts: ServeOptions,
    sink: crate::transcript::Tap,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let transcript = Transcript::streaming(sink);
    run_server(listener, opts, None, transcript, shutdown).await
}

/// Accepts connections until `shutdown`, one server session each.
async fn run_server(
    listener: net::LiveListener,
    opts: ServeOptions,
    maildir: Option<Arc<Maildir>>,
    transcript: Transcript,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let recorder = opts.record.as_ref().map(|file| {
        Arc::new(std::sync::Mutex::new(record::Recorder::new(
            file,
            &opts.profile,
            opts.server_overrides.clone(),
            opts.faults.clone(),
            opts.record_exact,
        )))
    });
    if let Some(recorder) = &recorder {
        let recorder = recorder.clone();
        transcript.set_tap(Box::new(move |e| {
            recorder.lock().expect("recorder").observe(e)
        }));
    }
    let cfg = Arc::new(opts.server.clone());
    let faults = FaultState::new(opts.faults.clone(), Duration::MAX);
    let salt = crate::seeds::queue_salt(opts.seed);
    let mut sessions = JoinSet::new();
    let mut accepted = 0u64;
    let mut gate = Gate::new(opts.max_connections, &opts.server.hostname);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            conn = listener.accept() => {
                let Some((stream, peer)) = gate.admit(conn, &listener, sessions.len(), &transcript).await else {
                    continue;
                };
                accepted += 1;
                let stream = plumbing::accepted(stream, &transcript, "server", "client", &faults.transport(Writer::Server, net::now()));
                let mut session = ServerSession::with_faults(cfg.clone(), &peer.ip().to_string(), net::now(), salt ^ accepted, faults.server_session());
                session.set_streaming(true);
                // Boxed: the task then holds a pointer, not the session's large state, which
                // would be copied as the task is made and again as it ends.
                match &maildir {
                    Some(m) => { sessions.spawn(Box::pin(actor::server::serve(stream, session, m.writer(), opts.tls.clone()))); }
                    None => { sessions.spawn(Box::pin(actor::server::serve(stream, session, maildir::Discard, opts.tls.clone()))); }
                }
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    finish(sessions, &transcript).await;
    if let Some(recorder) = recorder {
        recorder.lock().expect("recorder").flush();
    }
    Ok(())
}

/// Runs a live interceptor until `shutdown` completes.
pub async fn proxy(opts: ProxyOptions, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let listener = listen(&opts.listen).await?;
    let local = listener.local_addr()?;
    // Checked once at the start, so a typo shows now rather than as every client's 421
    // (`--no-probe` turns it off: the server logs it as a connection that sent nothing).
    if opts.probe {
        let probe = tokio::time::timeout(Duration::from_secs(5), net::live_connect(&opts.upstream));
        match probe.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!(
                "warning: --upstream {}: {e}; clients get the interceptor's upstream_failure_reply until it answers",
                opts.upstream
            ),
            Err(_) => eprintln!(
                "warning: --upstream {}: no answer within 5 s; clients get the interceptor's upstream_failure_reply until it answers",
                opts.upstream
            ),
        }
    }
    announce(
        &format!(
            "# smtpsim proxy: listening on {local} · upstream {} · profile {}",
            opts.upstream, opts.profile
        ),
        opts.format,
    );
    printed(opts.format, |transcript| {
        run_proxy(listener, opts, transcript, shutdown)
    })
    .await
}

/// Accepts connections until `shutdown`, one interceptor session each.
async fn run_proxy(
    listener: net::LiveListener,
    opts: ProxyOptions,
    transcript: Transcript,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let cfg = Arc::new(opts.interceptor.clone());
    let tls = tls::proxy_setup(&opts.upstream);
    let mut sessions = JoinSet::new();
    let mut gate = Gate::new(opts.max_connections, PROXY_LOG_HOST);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            conn = listener.accept() => {
                let Some((downstream, peer)) = gate.admit(conn, &listener, sessions.len(), &transcript).await else {
                    continue;
                };
                // The client side as an smtpd would log it (shown by --format maillog).
                let mut client_side = plumbing::accepted(downstream, &transcript, "interceptor", "client", &[]);
                if opts.format.shows_log() {
                    client_side = client_side.observed(&peer.ip().to_string(), PROXY_LOG_HOST);
                }
                let (cfg, transcript, upstream, tls) = (cfg.clone(), transcript.clone(), opts.upstream.clone(), tls.clone());
                // Boxed, as serve's sessions are.
                sessions.spawn(Box::pin(async move {
                    let upstream = Upstream { connect: net::live_connect(&upstream), faults: Vec::new, record_connect: true };
                    plumbing::intercept(client_side, upstream, cfg, &tls, &transcript).await;
                }));
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    finish(sessions, &transcript).await;
    Ok(())
}

/// Who gets a session: up to `max` at once; beyond that, and when the process is out of file
/// descriptors, a client gets a 421 and a close instead of a hang or a crash. One descriptor
/// is kept in reserve so that even then the refusal can be accepted and written.
struct Gate {
    max: usize,
    hostname: String,
    reserve: Option<std::fs::File>,
}

impl Gate {
    fn new(max: usize, hostname: &str) -> Gate {
        Gate {
            max,
            hostname: hostname.to_string(),
            reserve: std::fs::File::open("/dev/null").ok(),
        }
    }

    /// The connection `accepted` gave, if it gets a session (`running` are open).
    async fn admit(
        &mut self,
        accepted: io::Result<(net::LiveStream, std::net::SocketAddr)>,
        listener: &net::LiveListener,
        running: usize,
        transcript: &Transcript,
    ) -> Option<(net::LiveStream, std::net::SocketAddr)> {
        let note =
            |text: String| transcript.record(net::now(), 0, "smtpsim", "", EventKind::Note(text));
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) if is_out_of_descriptors(&e) => {
                // Free the reserve to take the waiting client off the queue and tell it.
                self.reserve = None;
                if let Ok((stream, peer)) = listener.accept().await {
                    note(format!(
                        "{peer}: out of file descriptors ({e}); answered 421"
                    ));
                    refuse(
                        stream,
                        format!(
                            "421 4.3.2 {} Error: out of resources, try again later",
                            self.hostname
                        ),
                    );
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                self.reserve = std::fs::File::open("/dev/null").ok();
                return None;
            }
            Err(e) => {
                note(format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                return None;
            }
        };
        if running >= self.max {
            note(format!(
                "{peer}: {running} sessions running (--max-connections); answered 421"
            ));
            refuse(
                stream,
                format!("421 4.7.0 {} Error: too many connections", self.hostname),
            );
            return None;
        }
        Some((stream, peer))
    }
}

/// Writes `reply` and closes, without holding up the accept loop.
fn refuse(mut stream: net::LiveStream, reply: String) {
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let write = async {
            stream.write_all(format!("{reply}\r\n").as_bytes()).await?;
            stream.shutdown().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), write).await;
    });
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE (the process's limit) and ENFILE (the system's).
    matches!(e.raw_os_error(), Some(24) | Some(23))
}

/// Binds `addr`, naming it and what to do in the error.
async fn listen(addr: &str) -> io::Result<net::LiveListener> {
    net::live_listen(addr).await.map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::AddrInUse => " (in use: pick another port with --listen HOST:PORT)",
            io::ErrorKind::InvalidInput => " (expected HOST:PORT, e.g. 127.0.0.1:2525)",
            io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
            _ => "",
        };
        io::Error::new(e.kind(), format!("--listen {addr}: {e}{hint}"))
    })
}

/// Lets running sessions end on their own for a while, then cuts them.
async fn finish(mut sessions: JoinSet<()>, transcript: &Transcript) {
    let running = sessions.len();
    if running > 0 {
        transcript.record(
            net::now(),
            0,
            "smtpsim",
            "",
            EventKind::Note(format!("shutting down: waiting for {running} sessions")),
        );
    }
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        transcript.record(
            net::now(),
            0,
            "smtpsim",
            "",
            EventKind::Note(format!("cutting {} sessions", sessions.len())),
        );
        sessions.abort_all();
        while sessions.join_next().await.is_some() {}
    }
}
