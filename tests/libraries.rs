//! Real client libraries inside the simulation: lettre (`AsyncSmtpConnection::
//! connect_with_transport`) and mail-send (`SmtpClient { stream, timeout }`) drive a simulated
//! connection through each interceptor. What each library told its caller is turned into the
//! client's view for the oracle, and the oracle's verdict must agree with it. And a real server
//! library: mailin (sans-IO: lines in, responses out) serves the built-in client through each
//! interceptor, and what its handler stored is the server's view.

use smtpsim::oracle::Verdict;
use smtpsim::proto::client::{Outcome, Stage, Status};
use smtpsim::proto::Reply;
use smtpsim::scenario::Scenario;
use smtpsim::sim::byo::{Conn, Mailbox};
use smtpsim::world::World;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};

const INTERCEPTORS: [&str; 4] = [
    "passthrough",
    "symantec-telnet",
    "symantec-rset",
    "pix-mailguard",
];

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/tests/libraries/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Scenario::load(path.as_ref()).expect("valid scenario")
}

fn outcome(
    id: usize,
    status: Status,
    stage: Stage,
    reply: Option<Reply>,
    reason: Option<String>,
) -> Outcome {
    Outcome {
        id,
        status,
        stage,
        reply,
        reason,
        to: Vec::new(),
        refused: Vec::new(),
        in_sync_gap: false,
        retry_at: None,
    }
}

/// A library's session on one connection: what it told its caller, per message.
type Session = Box<dyn FnOnce(Conn) -> Pin<Box<dyn Future<Output = Vec<Outcome>>>>>;

/// The scenario's world with the library as its client (`library` names it): one connection,
/// and what the library said goes to the oracle.
/// `session_fn` is how the test names `session` (for the replay line).
fn world(
    s: &Scenario,
    library: &str,
    (session_fn, session): (&str, fn(&Scenario) -> Session),
) -> World {
    let scenario = s.clone();
    World::new(s.clone())
        .client(library, move |client| {
            let session = session(&scenario);
            async move {
                let Ok(conn) = client.connect().await else {
                    return;
                };
                for outcome in session(conn).await {
                    client.report(outcome);
                }
            }
        })
        .replay_as(&format!(
            "world(&scenario({:?}), {library:?}, ({session_fn:?}, {session_fn}))",
            s.name
        ))
}

/// lettre wants a boxed `AsyncTokioStream` (Send + Sync + Debug + peer_addr).
#[derive(Debug)]
struct ForLettre(Conn);

impl AsyncRead for ForLettre {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ForLettre {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl lettre::transport::smtp::client::AsyncTokioStream for ForLettre {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

fn lettre_client(s: &Scenario) -> Session {
    lettre_client_with(s, false)
}

fn lettre_starttls_client(s: &Scenario) -> Session {
    lettre_client_with(s, true)
}

/// lettre, optionally negotiating STARTTLS itself (accepting any certificate, as an
/// opportunistic client does) with the process's crypto provider: the seeded one.
fn lettre_client_with(s: &Scenario, starttls: bool) -> Session {
    let m = s.messages[0].clone();
    Box::new(move |stream| {
        Box::pin(async move {
            use lettre::address::Envelope;
            use lettre::transport::smtp::client::AsyncSmtpConnection;
            use lettre::transport::smtp::extension::ClientId;
            let hello = ClientId::Domain("ws1.example.org".into());
            let mut conn = match AsyncSmtpConnection::connect_with_transport(
                Box::new(ForLettre(stream)),
                &hello,
            )
            .await
            {
                Ok(c) => c,
                Err(e) => return vec![lettre_failure(m.id, &e, Stage::Helo, "connect")],
            };
            if starttls {
                use lettre::transport::smtp::client::TlsParameters;
                let tls = TlsParameters::builder("mail.example.org".into())
                    .dangerous_accept_invalid_certs(true)
                    .build_rustls()
                    .expect("TLS parameters");
                if let Err(e) = conn.starttls(tls, &hello).await {
                    return vec![lettre_failure(m.id, &e, Stage::StartTls, "starttls")];
                }
            }
            let envelope = Envelope::new(
                Some(m.from.parse().unwrap()),
                m.to.iter().map(|t| t.parse().unwrap()).collect(),
            )
            .unwrap();
            let result = conn.send(&envelope, &m.body).await;
            let _ = conn.quit().await;
            match result {
                Ok(resp) => {
                    let text = resp.message().collect::<Vec<_>>().join(" / ");
                    let code: u16 = resp.code().to_string().parse().unwrap();
                    vec![outcome(
                        m.id,
                        Status::Accepted,
                        Stage::DataDone,
                        Some(Reply::new(code, text)),
                        None,
                    )]
                }
                Err(e) => vec![lettre_failure(m.id, &e, Stage::DataDone, "send")],
            }
        })
    })
}

fn lettre_failure(
    id: usize,
    e: &lettre::transport::smtp::Error,
    stage: Stage,
    what: &str,
) -> Outcome {
    let status = if e.is_permanent() {
        Status::Rejected
    } else {
        Status::Deferred
    };
    outcome(id, status, stage, None, Some(format!("lettre {what}: {e}")))
}

fn mail_send_client(s: &Scenario) -> Session {
    let m = s.messages[0].clone();
    Box::new(move |stream| {
        Box::pin(async move {
            let client = mail_send::SmtpClient {
                stream,
                timeout: Duration::from_secs(60),
            };
            mail_send_session(client, m).await
        })
    })
}

/// mail-send, negotiating STARTTLS as its own `start_tls` does (which is written for a
/// `TcpStream` only): STARTTLS, then its `build_tls_connector(true)` (any certificate, the
/// process's crypto provider: the seeded one) over the simulated connection.
fn mail_send_starttls_client(s: &Scenario) -> Session {
    let m = s.messages[0].clone();
    Box::new(move |stream| {
        Box::pin(async move {
            let mut client = mail_send::SmtpClient {
                stream,
                timeout: Duration::from_secs(60),
            };
            let failed = |why: String| {
                vec![outcome(
                    m.id,
                    Status::Deferred,
                    Stage::StartTls,
                    None,
                    Some(why),
                )]
            };
            if let Err(e) = client.read().await {
                return failed(format!("mail-send: {e}"));
            }
            if let Err(e) = client.ehlo("ws1.example.org").await {
                return failed(format!("mail-send: {e}"));
            }
            let ready = match client.cmd(b"STARTTLS\r\n").await {
                Ok(reply) => mail_send::smtp::AssertReply::assert_positive_completion(reply),
                Err(e) => Err(e),
            };
            if let Err(e) = ready {
                return failed(format!("mail-send: {e}"));
            }
            let connector = mail_send::smtp::tls::build_tls_connector(true);
            let name = rustls::pki_types::ServerName::try_from("mail.example.org")
                .expect("a name")
                .to_owned();
            let stream = match connector.connect(name, client.stream).await {
                Ok(s) => s,
                Err(e) => return failed(format!("mail-send TLS: {e}")),
            };
            let client = mail_send::SmtpClient {
                stream,
                timeout: Duration::from_secs(60),
            };
            mail_send_session_greeted(client, m).await
        })
    })
}

async fn mail_send_session<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut client: mail_send::SmtpClient<S>,
    m: smtpsim::proto::client::Message,
) -> Vec<Outcome> {
    if let Err(e) = client.read().await {
        return mail_send_failed(&m, e, Stage::Greeting);
    }
    mail_send_session_greeted(client, m).await
}

fn mail_send_failed(
    m: &smtpsim::proto::client::Message,
    e: mail_send::Error,
    stage: Stage,
) -> Vec<Outcome> {
    let status = match &e {
        mail_send::Error::UnexpectedReply(r) if r.code() >= 500 => Status::Rejected,
        _ => Status::Deferred,
    };
    vec![outcome(
        m.id,
        status,
        stage,
        None,
        Some(format!("mail-send: {e}")),
    )]
}

/// EHLO (again, inside TLS), the message, QUIT.
async fn mail_send_session_greeted<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut client: mail_send::SmtpClient<S>,
    m: smtpsim::proto::client::Message,
) -> Vec<Outcome> {
    if let Err(e) = client.ehlo("ws1.example.org").await {
        return mail_send_failed(&m, e, Stage::Helo);
    }
    let message = mail_send::smtp::message::Message::new(
        m.from.as_str(),
        m.to.iter().map(String::as_str).collect::<Vec<_>>(),
        m.body.as_slice(),
    );
    let result = client.send(message).await;
    let _ = client.quit().await;
    match result {
        Ok(()) => vec![outcome(m.id, Status::Accepted, Stage::DataDone, None, None)],
        Err(e) => mail_send_failed(&m, e, Stage::DataDone),
    }
}

fn check(library: &str, name: &str, result: &smtpsim::sim::RunResult) {
    let told = &result.outcomes[0].status;
    let verdict = result.report.messages[0].verdict;
    let text = smtpsim::format::text::render(result);
    // The oracle must agree with what the library told its caller.
    match told {
        Status::Accepted => assert!(
            matches!(
                verdict,
                Verdict::Delivered | Verdict::Lost | Verdict::DuplicatedRfc1047
            ),
            "{library}/{name}: accepted but verdict {verdict}\n{text}"
        ),
        Status::Rejected => assert_eq!(verdict, Verdict::Bounced, "{library}/{name}"),
        Status::Deferred | Status::NotAttempted => {
            assert!(
                matches!(
                    verdict,
                    Verdict::Deferred | Verdict::Failed | Verdict::NotSent
                ),
                "{library}/{name}: {verdict}"
            )
        }
    }
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("{library}@{name}"), text);
    });
}

#[test]
fn lettre_through_every_interceptor() {
    for name in INTERCEPTORS {
        let s = scenario(name);
        let result = world(&s, "lettre", ("lettre_client", lettre_client))
            .run(0)
            .expect("runs");
        check("lettre", name, &result);
    }
}

#[test]
fn mail_send_through_every_interceptor() {
    for name in INTERCEPTORS {
        let s = scenario(name);
        let result = world(&s, "mail-send", ("mail_send_client", mail_send_client))
            .run(0)
            .expect("runs");
        check("mail-send", name, &result);
    }
}

/// The seeded provider as the process default: what lettre and mail-send build their TLS
/// configs from, so their handshakes replay from the run's seed too.
fn seeded_crypto_for_libraries() {
    let _ =
        rustls::crypto::CryptoProvider::install_default((*smtpsim::tls::seeded_provider()).clone());
}

#[test]
fn lettre_and_mail_send_negotiate_starttls_with_the_seeded_crypto() {
    seeded_crypto_for_libraries();
    type Client = (&'static str, fn(&Scenario) -> Session);
    let clients: [(&str, Client); 2] = [
        ("lettre", ("lettre_starttls_client", lettre_starttls_client)),
        (
            "mail-send",
            ("mail_send_starttls_client", mail_send_starttls_client),
        ),
    ];
    for (library, client) in clients {
        for name in ["starttls", "starttls-av-inspect"] {
            let s = scenario(name);
            let result = world(&s, library, client).run(0).expect("runs");
            let again = world(&s, library, client).run(0).expect("runs");
            let text = smtpsim::format::text::render(&result);
            assert_eq!(
                text,
                smtpsim::format::text::render(&again),
                "{library}/{name}"
            );
            assert_eq!(
                result.keylog, again.keylog,
                "{library}/{name}: same secrets"
            );
            assert!(!result.keylog.is_empty(), "{library}/{name}: {text}");
            assert_eq!(
                result.report.messages[0].verdict,
                Verdict::Delivered,
                "{library}/{name}\n{text}"
            );
            // The library's TLS is above the client's recorder (records); the server's is
            // below its own (the SMTP inside, marked protected).
            let layer_of = |from: &str, what: &str| {
                result.events.iter().find_map(|e| match &e.kind {
                    smtpsim::transcript::EventKind::Data(b)
                        if e.from == from && String::from_utf8_lossy(b).contains(what) =>
                    {
                        Some(e.layer)
                    }
                    _ => None,
                })
            };
            use smtpsim::transcript::Layer;
            assert_eq!(layer_of("server", "250 2.1.0"), Some(Layer::Tls), "{text}");
            assert!(
                result
                    .events
                    .iter()
                    .any(|e| e.from == "client" && e.layer == Layer::Opaque),
                "{library}/{name}: the client's side after STARTTLS is TLS records\n{text}"
            );
            check(library, name, &result);
        }
    }
}

/// mailin's handler: the transaction's envelope and content, stored at the end of data.
struct MailinStore {
    mailbox: Mailbox,
    from: String,
    to: Vec<String>,
    body: Vec<u8>,
}

impl mailin::Handler for MailinStore {
    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin::Response {
        (self.from, self.to) = (from.to_string(), to.to_vec());
        self.body.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.body.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        self.mailbox.store(&self.from, &self.to, &self.body);
        mailin::response::OK
    }
}

/// One mailin session over a simulated connection: each line to `Session::process`, each
/// response written back as it says.
async fn mailin_server(conn: Conn, mailbox: Mailbox) {
    let ip = conn
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let store = MailinStore {
        mailbox,
        from: String::new(),
        to: Vec::new(),
        body: Vec::new(),
    };
    let mut session = mailin::SessionBuilder::new("mail.example.org").build(ip, store);
    let mut conn = BufReader::new(conn);
    let greeting = session.greeting().buffer().expect("a response");
    if conn.write_all(&greeting).await.is_err() {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match conn.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = session.process(&line);
        let bytes = response.buffer().expect("a response");
        if !bytes.is_empty() && conn.write_all(&bytes).await.is_err() {
            return;
        }
        // No TLS here: a STARTTLS it accepted ends the session, as a close.
        if matches!(
            response.action,
            mailin::Action::Close | mailin::Action::UpgradeTls
        ) {
            return;
        }
    }
}

#[test]
fn mailin_serves_through_every_interceptor() {
    for name in INTERCEPTORS {
        let s = scenario(name);
        let world = World::new(s.clone())
            .server("mailin", mailin_server)
            .replay_as(&format!(
                "World::new(scenario({name:?})).server(\"mailin\", mailin_server)"
            ));
        let result = world.run(0).expect("runs");
        assert!(
            result.header[2].contains("server=mailin (own code)"),
            "{:?}",
            result.header
        );
        check("mailin", name, &result);
    }
}
