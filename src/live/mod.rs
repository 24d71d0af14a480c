//! Live mode: the same sessions and drivers as the simulation, on real sockets. `serve` is a
//! real SMTP server with any server profile (optionally storing mail in a Maildir and drawing
//! application faults from a seed); `proxy` is a real interceptor in front of a real server.

pub mod maildir;
pub mod record;

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
    /// The knobs given on the command line (written into recorded scenarios).
    pub server_overrides: toml::Table,
    /// Print the transcript as JSON Lines.
    pub json: bool,
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
    /// Print the transcript as JSON Lines.
    pub json: bool,
}

/// The "listening on" line: first on stdout in text mode; on stderr in JSON mode, so that
/// stdout stays pure JSON Lines.
fn announce(line: &str, json: bool) {
    if json {
        eprintln!("{line}");
        return;
    }
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs a live server until `shutdown` completes, then lets sessions finish (up to
/// [`SHUTDOWN_GRACE`]) and cuts the rest; a cut session leaves nothing in the Maildir.
pub async fn serve(opts: ServeOptions, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let listener = listen(&opts.listen).await?;
    let local = listener.local_addr()?;
    let maildir =
        match opts.maildir.as_deref() {
            Some(path) => Some(Maildir::create(path).map_err(|e| {
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
        "# smtpsim serve: listening on {local} · profile {} · maildir {} · seed {} · {} fault events{domains}",
        opts.profile,
        opts.maildir.as_ref().map_or("none".to_string(), |p| p.display().to_string()),
        opts.seed,
        opts.faults.events.len()
    ), opts.json);
    let transcript = if opts.json {
        Transcript::streaming(crate::format::text::printer(true))
    } else {
        Transcript::streaming(crate::format::text::printer(false))
    };
    run_server(listener, opts, maildir, transcript, shutdown).await
}

/// A server as [`serve`] runs it, on a listener the caller bound, printing nothing and storing
/// nothing (`smtpsim diff`'s side of the comparison).
pub async fn serve_quietly(
    listener: net::LiveListener,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let transcript = Transcript::streaming(Box::new(|_| {}));
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
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            conn = listener.accept() => {
                let (stream, peer) = match conn {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors and the like: note it, keep serving.
                        transcript.record(net::now(), 0, "server", "", EventKind::Note(format!("accept failed: {e}")));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                accepted += 1;
                let stream = plumbing::accepted(stream, &transcript, "server", "client", &faults.transport(Writer::Server, net::now()));
                let mut session = ServerSession::with_faults(cfg.clone(), &peer.ip().to_string(), net::now(), salt ^ accepted, faults.server_session());
                session.set_streaming(true);
                match &maildir {
                    Some(m) => { sessions.spawn(actor::server::serve(stream, session, m.writer())); }
                    None => { sessions.spawn(actor::server::serve(stream, session, maildir::Discard)); }
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
    // Checked once at the start, so a typo shows now rather than as every client's 421.
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
    announce(
        &format!(
            "# smtpsim proxy: listening on {local} · upstream {} · profile {}",
            opts.upstream, opts.profile
        ),
        opts.json,
    );
    let transcript = if opts.json {
        Transcript::streaming(crate::format::text::printer(true))
    } else {
        Transcript::streaming(crate::format::text::printer(false))
    };
    let cfg = Arc::new(opts.interceptor.clone());
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            conn = listener.accept() => {
                let Ok((downstream, _)) = conn else { continue };
                let client_side = plumbing::accepted(downstream, &transcript, "interceptor", "client", &[]);
                let (cfg, transcript, upstream) = (cfg.clone(), transcript.clone(), opts.upstream.clone());
                sessions.spawn(async move {
                    let upstream = Upstream { connect: net::live_connect(&upstream), faults: Vec::new, record_connect: true };
                    plumbing::intercept(client_side, upstream, cfg, &transcript).await;
                });
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    finish(sessions, &transcript).await;
    Ok(())
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
