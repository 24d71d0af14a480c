//! The TLS layer on its own, over in-memory pipes: a STARTTLS-like exchange replays byte for byte
//! from a seed (handshake, tickets and key log included), certificates are made from the seed,
//! verification trusts what it should and nothing else, writes reach the wire without a flush.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::time_provider::TimeProvider;
use smtpsim::tls::{
    client_config, live_provider, random, seeded_provider, server_config, Identity, KeyLogLines,
    MaybeTls, SimClock, Verify,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

/// 2026-01-01T00:00:00Z, the simulation's epoch.
const EPOCH: u64 = 1_767_225_600;
const HOST: &str = "mail.example.org";

/// A clock stopped at `EPOCH` + the given seconds: nothing here may read the wall clock.
#[derive(Debug)]
struct Fixed(u64);

impl TimeProvider for Fixed {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(
            EPOCH + self.0,
        )))
    }
}

fn fixed() -> Option<Arc<dyn TimeProvider>> {
    Some(Arc::new(Fixed(3600)))
}

/// A stream that records every write the inner stream accepted, one entry per write.
struct Recorder {
    inner: DuplexStream,
    writes: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Recorder {
    fn new(inner: DuplexStream) -> (Recorder, Arc<Mutex<Vec<Vec<u8>>>>) {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let recorder = Recorder {
            inner,
            writes: writes.clone(),
        };
        (recorder, writes)
    }

    fn write_count(&self) -> usize {
        self.writes.lock().unwrap().len()
    }

    fn bytes_written(&self) -> usize {
        self.writes.lock().unwrap().iter().map(Vec::len).sum()
    }
}

impl AsyncRead for Recorder {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.writes.lock().unwrap().push(buf[..n].to_vec());
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn pipe(capacity: usize) -> (MaybeTls<Recorder>, MaybeTls<Recorder>, Wire) {
    let (a, b) = tokio::io::duplex(capacity);
    let (client, up) = Recorder::new(a);
    let (server, down) = Recorder::new(b);
    (
        MaybeTls::Plain(client),
        MaybeTls::Plain(server),
        Wire { up, down },
    )
}

/// The writes one side made, in order.
type Writes = Vec<Vec<u8>>;

/// Both directions of a connection as they crossed it, write by write.
struct Wire {
    up: Arc<Mutex<Vec<Vec<u8>>>>,
    down: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Wire {
    fn take(&self) -> (Writes, Writes) {
        (
            self.up.lock().unwrap().clone(),
            self.down.lock().unwrap().clone(),
        )
    }
}

/// One line, read a byte at a time (as an SMTP server must before STARTTLS, so it does not
/// swallow the start of the handshake).
async fn line<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut out = Vec::new();
    while !out.ends_with(b"\r\n") {
        let mut byte = [0u8];
        if stream.read(&mut byte).await.expect("read") == 0 {
            break;
        }
        out.push(byte[0]);
    }
    String::from_utf8(out).expect("text")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Everything observable of one run: both directions of both connections, write by write, the
/// key log, and the handshake notes.
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    wires: Vec<(Writes, Writes)>,
    keylog: Vec<String>,
    notes: Vec<String>,
}

/// A STARTTLS-like exchange, twice in a row with the same configs (the second connection
/// resumes), everything seeded by `seed`, on pipes of `capacity` bytes.
fn starttls_run(seed: u64, capacity: usize) -> Trace {
    runtime().block_on(async {
        random::seed_thread(ChaCha8Rng::seed_from_u64(seed));
        let mut cert_rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1000));
        let identity = Identity::seeded(&mut cert_rng, "smtpsim test CA", HOST, EPOCH);
        let keylog = KeyLogLines::new();
        let server_cfg = server_config(
            &identity,
            seeded_provider(),
            fixed(),
            Some(Arc::new(keylog.clone())),
        );
        let client_cfg = client_config(
            Verify::Roots(vec![identity.ca().clone()]),
            seeded_provider(),
            fixed(),
            Some(Arc::new(keylog.clone())),
        );
        let mut wires = Vec::new();
        let mut notes = Vec::new();
        for _ in 0..2 {
            let (mut client, mut server, wire) = pipe(capacity);
            let big: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
            let server_side = async {
                server.write_all(b"220 mail.example.org ESMTP\r\n").await?;
                assert_eq!(line(&mut server).await, "STARTTLS\r\n");
                server
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await?;
                let hs = server.start_server(server_cfg.clone()).await?;
                assert_eq!(line(&mut server).await, "EHLO client.example.net\r\n");
                server.write_all(b"250 mail.example.org\r\n").await?;
                let mut got = vec![0u8; big.len()];
                server.read_exact(&mut got).await?;
                assert!(got == big, "the big write arrived intact");
                server.write_all(b"250 2.0.0 Ok: queued\r\n").await?;
                assert_eq!(line(&mut server).await, "QUIT\r\n");
                server.write_all(b"221 2.0.0 Bye\r\n").await?;
                server.shutdown().await?;
                io::Result::Ok(hs)
            };
            let client_side = async {
                assert_eq!(line(&mut client).await, "220 mail.example.org ESMTP\r\n");
                client.write_all(b"STARTTLS\r\n").await?;
                assert_eq!(line(&mut client).await, "220 2.0.0 Ready to start TLS\r\n");
                let hs = client.start_client(client_cfg.clone(), HOST).await?;
                assert!(client.is_tls());
                client.write_all(b"EHLO client.example.net\r\n").await?;
                assert_eq!(line(&mut client).await, "250 mail.example.org\r\n");
                let before = client.get_ref().unwrap().bytes_written();
                client.write_all(&big).await?;
                // All on the pipe when write_all returns, without a flush: three records
                // (16 KiB, 16 KiB, the rest), each with 22 bytes of header, type and tag.
                let after = client.get_ref().unwrap().bytes_written();
                assert_eq!(after - before, big.len() + 3 * 22);
                assert_eq!(line(&mut client).await, "250 2.0.0 Ok: queued\r\n");
                client.write_all(b"QUIT\r\n").await?;
                assert_eq!(line(&mut client).await, "221 2.0.0 Bye\r\n");
                let mut rest = Vec::new();
                client.read_to_end(&mut rest).await?;
                assert!(rest.is_empty(), "close_notify, then end of file");
                io::Result::Ok(hs)
            };
            let (server_hs, client_hs) = tokio::join!(server_side, client_side);
            notes.push(format!("server: {}", server_hs.expect("server side")));
            notes.push(format!("client: {}", client_hs.expect("client side")));
            wires.push(wire.take());
        }
        random::clear_thread();
        Trace {
            wires,
            keylog: keylog.lines(),
            notes,
        }
    })
}

/// The content types of the whole TLS records in `bytes`.
fn record_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        assert!(bytes.len() >= 5 + len, "whole records only");
        types.push(bytes[0]);
        bytes = &bytes[5 + len..];
    }
    assert!(bytes.is_empty());
    types
}

fn concat(writes: &[Vec<u8>]) -> Vec<u8> {
    writes.concat()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let first = starttls_run(7, 64 * 1024);
    let again = starttls_run(7, 64 * 1024);
    assert!(
        first == again,
        "same seed: identical bytes, writes, key log and notes"
    );
    let other = starttls_run(8, 64 * 1024);
    for (a, b) in first.wires.iter().zip(&other.wires) {
        assert_ne!(
            concat(&a.0),
            concat(&b.0),
            "client to server differs by seed"
        );
        assert_ne!(
            concat(&a.1),
            concat(&b.1),
            "server to client differs by seed"
        );
    }
    assert_ne!(first.keylog, other.keylog);
    // The plaintext prefix is the same whatever the seed; the handshake is not.
    let up = concat(&first.wires[0].0);
    assert!(
        up.starts_with(b"STARTTLS\r\n\x16\x03\x01"),
        "then a TLS ClientHello"
    );
    // The server's first flight is one write: ServerHello, ChangeCipherSpec, then the encrypted
    // rest (EncryptedExtensions, Certificate, CertificateVerify, Finished) as one record.
    let down = &first.wires[0].1;
    assert_eq!(down[1], b"220 2.0.0 Ready to start TLS\r\n");
    assert_eq!(record_types(&down[2]), [22, 20, 23]);
    assert_eq!(
        first.notes,
        [
            "server: TLSv1.3 TLS13_AES_256_GCM_SHA384",
            "client: TLSv1.3 TLS13_AES_256_GCM_SHA384, peer CN=mail.example.org",
            "server: TLSv1.3 TLS13_AES_256_GCM_SHA384, resumed",
            "client: TLSv1.3 TLS13_AES_256_GCM_SHA384, peer CN=mail.example.org, resumed",
        ]
    );
}

#[test]
fn small_pipes_make_writes_wait_and_still_replay() {
    // 100-byte pipes: most records do not fit at once, so TLS writes return Pending and resume.
    let first = starttls_run(11, 100);
    let again = starttls_run(11, 100);
    assert!(first == again);
    // The same session over roomy pipes moves the same bytes, in more pieces.
    let roomy = starttls_run(11, 64 * 1024);
    for (small, big) in first.wires.iter().zip(&roomy.wires) {
        assert_eq!(concat(&small.0), concat(&big.0));
        assert_eq!(concat(&small.1), concat(&big.1));
        assert!(small.0.len() > big.0.len());
    }
}

#[test]
fn key_log_names_this_handshake() {
    let trace = starttls_run(3, 64 * 1024);
    // The ClientHello's random: after "STARTTLS\r\n", a 5-byte record header, a 4-byte
    // handshake header and the 2-byte legacy version.
    let up = concat(&trace.wires[0].0);
    let hello = &up[b"STARTTLS\r\n".len()..];
    let random: String = hello[11..43].iter().map(|b| format!("{b:02x}")).collect();
    let labels: Vec<&str> = trace
        .keylog
        .iter()
        .filter(|l| l.split(' ').nth(1) == Some(random.as_str()))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        assert!(
            labels.contains(&label),
            "{label} for the first handshake: {:?}",
            trace.keylog
        );
    }
    // NSS format: label, 32-byte client random, 48-byte secret (SHA-384 suite), in hex.
    for l in &trace.keylog {
        let parts: Vec<&str> = l.split(' ').collect();
        assert_eq!(parts.len(), 3, "{l}");
        assert_eq!(parts[1].len(), 64, "{l}");
        assert_eq!(parts[2].len(), 96, "{l}");
    }
}

#[test]
fn a_write_is_one_record_on_the_wire_without_flush() {
    let trace = runtime().block_on(async {
        random::seed_thread(ChaCha8Rng::seed_from_u64(5));
        let identity = Identity::seeded(&mut ChaCha8Rng::seed_from_u64(6), "CA", HOST, EPOCH);
        let server_cfg = server_config(&identity, seeded_provider(), fixed(), None);
        let client_cfg = client_config(Verify::Nothing, seeded_provider(), fixed(), None);
        let (mut client, mut server, _wire) = pipe(64 * 1024);
        let (s, c) = tokio::join!(
            server.start_server(server_cfg),
            client.start_client(client_cfg, HOST)
        );
        s.unwrap();
        c.unwrap();
        let before = (
            client.get_ref().unwrap().write_count(),
            client.get_ref().unwrap().bytes_written(),
        );
        client.write_all(b"EHLO x\r\n").await.unwrap();
        let after = (
            client.get_ref().unwrap().write_count(),
            client.get_ref().unwrap().bytes_written(),
        );
        random::clear_thread();
        (before, after)
    });
    let ((writes_before, bytes_before), (writes_after, bytes_after)) = trace;
    assert_eq!(
        writes_after,
        writes_before + 1,
        "one write on the inner stream"
    );
    // TLS 1.3 record: 5-byte header + 8 bytes + content type + 16-byte tag.
    assert_eq!(bytes_after - bytes_before, 5 + 8 + 1 + 16);
}

/// A handshake of a client verifying as `verify` (`name`, `clock`) with a server presenting
/// `identity`: the client's and the server's results.
fn handshake(
    identity: &Identity,
    verify: Verify,
    name: &str,
    clock: Option<Arc<dyn TimeProvider>>,
) -> (
    io::Result<smtpsim::tls::Handshake>,
    io::Result<smtpsim::tls::Handshake>,
    bool,
) {
    runtime().block_on(async {
        random::seed_thread(ChaCha8Rng::seed_from_u64(1));
        let server_cfg = server_config(identity, seeded_provider(), fixed(), None);
        let client_cfg = client_config(verify, seeded_provider(), clock, None);
        let (mut client, mut server, _wire) = pipe(64 * 1024);
        let (s, c) = tokio::join!(
            server.start_server(server_cfg),
            client.start_client(client_cfg, name)
        );
        let gone = matches!(client, MaybeTls::Gone) && matches!(server, MaybeTls::Gone);
        random::clear_thread();
        (c, s, gone)
    })
}

fn seeded_identity(seed: u64, ca: &str) -> Identity {
    Identity::seeded(&mut ChaCha8Rng::seed_from_u64(seed), ca, HOST, EPOCH)
}

#[test]
fn roots_trust_the_servers_ca_and_nothing_else() {
    let server = seeded_identity(1, "Server CA");
    let other = seeded_identity(2, "Other CA");

    let (client, srv, _) = handshake(
        &server,
        Verify::Roots(vec![server.ca().clone()]),
        HOST,
        fixed(),
    );
    let client = client.expect("trusted");
    srv.expect("server side");
    assert_eq!(
        client.peer_subject.as_deref(),
        Some(server.subject.as_str())
    );
    assert_eq!(server.subject, "CN=mail.example.org");

    let (client, srv, gone) = handshake(
        &server,
        Verify::Roots(vec![other.ca().clone()]),
        HOST,
        fixed(),
    );
    let err = client
        .expect_err("another CA's anchor must not verify this server")
        .to_string();
    assert!(err.contains("certificate not trusted"), "{err}");
    let err = srv
        .expect_err("the client refuses, the server hears it")
        .to_string();
    assert!(
        err.contains("refused") && err.contains("UnknownCA"),
        "{err}"
    );
    assert!(gone, "both streams are closed after a failed handshake");

    let (client, _, _) = handshake(
        &server,
        Verify::Roots(vec![server.ca().clone()]),
        "other.example.org",
        fixed(),
    );
    let err = client.expect_err("wrong name").to_string();
    assert!(err.contains("does not name the host"), "{err}");

    // Verify::Nothing: any certificate, as Postfix's may/encrypt levels.
    let (client, srv, _) = handshake(&other, Verify::Nothing, HOST, fixed());
    assert_eq!(
        client.expect("accepted").peer_subject.as_deref(),
        Some("CN=mail.example.org")
    );
    srv.expect("server side");
}

#[test]
fn validity_follows_the_given_clock() {
    let server = seeded_identity(1, "Server CA");
    let roots = || Verify::Roots(vec![server.ca().clone()]);
    // SimClock outside a simulation: epoch + the process's time so far (seconds at most).
    let at = |epoch_secs: u64| -> Option<Arc<dyn TimeProvider>> {
        Some(Arc::new(SimClock { epoch_secs }))
    };
    assert!(handshake(&server, roots(), HOST, at(EPOCH)).0.is_ok());
    assert!(handshake(&server, roots(), HOST, at(EPOCH + 3649 * 86_400))
        .0
        .is_ok());
    let err = handshake(&server, roots(), HOST, at(EPOCH + 3651 * 86_400))
        .0
        .expect_err("expired")
        .to_string();
    assert!(err.contains("expired or not yet valid"), "{err}");
    let err = handshake(&server, roots(), HOST, at(EPOCH - 2 * 86_400))
        .0
        .expect_err("not yet valid")
        .to_string();
    assert!(err.contains("expired or not yet valid"), "{err}");
}

#[test]
fn seeded_identity_is_a_function_of_the_rng() {
    let a = seeded_identity(42, "CA");
    let b = seeded_identity(42, "CA");
    let c = seeded_identity(43, "CA");
    assert_eq!(a.chain(), b.chain());
    assert_eq!(a.key_pem(), b.key_pem());
    assert_eq!(a.cert_pem(), b.cert_pem());
    assert_ne!(a.chain()[0], c.chain()[0]);
    assert_ne!(a.ca(), c.ca());
    assert_ne!(a.key_pem(), c.key_pem());
    // The same rng state: drawing first moves the certificates on.
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let first = Identity::seeded(&mut rng, "CA", HOST, EPOCH);
    let second = Identity::seeded(&mut rng, "CA", HOST, EPOCH);
    assert_eq!(first.chain(), a.chain());
    assert_ne!(second.chain(), a.chain());
    // Leaf first, issuer last; the PEM parses back to the same DER.
    assert_eq!(a.chain().len(), 2);
    assert_eq!(&a.chain()[1], a.ca());
    use rustls::pki_types::pem::PemObject;
    let parsed: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(a.cert_pem().as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(parsed, a.chain());
}

#[test]
fn pem_files_load_and_name_the_file_when_wrong() {
    let dir = std::env::temp_dir().join(format!("smtpsim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = seeded_identity(1, "A");
    let b = seeded_identity(2, "B");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let wrong_key = dir.join("other-key.pem");
    std::fs::write(&cert, a.cert_pem()).unwrap();
    std::fs::write(&key, a.key_pem()).unwrap();
    std::fs::write(&wrong_key, b.key_pem()).unwrap();

    let loaded = Identity::from_pem_files(&cert, &key).expect("loads");
    assert_eq!(loaded.chain(), a.chain());
    assert_eq!(loaded.ca(), a.ca());
    assert_eq!(loaded.subject, a.subject);
    let (client, srv, _) = handshake(&loaded, Verify::Roots(vec![a.ca().clone()]), HOST, fixed());
    client.expect("the loaded identity serves");
    srv.expect("server side");

    let err = Identity::from_pem_files(&cert, &wrong_key).unwrap_err();
    assert!(err.contains("other-key.pem"), "{err}");
    let missing = dir.join("missing.pem");
    let err = Identity::from_pem_files(&missing, &key).unwrap_err();
    assert!(
        err.contains("missing.pem") && err.contains("cannot read"),
        "{err}"
    );
    let err = Identity::from_pem_files(&key, &key).unwrap_err();
    assert!(
        err.contains("key.pem") && err.contains("no certificate"),
        "{err}"
    );
    let err = Identity::from_pem_files(&cert, &cert).unwrap_err();
    assert!(
        err.contains("cert.pem") && err.contains("no private key"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_seeded_randomness_a_seeded_handshake_fails() {
    runtime().block_on(async {
        random::clear_thread();
        let client_cfg = client_config(Verify::Nothing, seeded_provider(), fixed(), None);
        let (mut client, _server, wire) = pipe(1024);
        let err = client.start_client(client_cfg, HOST).await.unwrap_err();
        assert!(err.to_string().contains("random"), "{err}");
        assert!(wire.take().0.is_empty(), "nothing was sent");
    });
}

#[test]
fn tls12_uses_the_seeded_key_exchange_too() {
    let run = || {
        runtime().block_on(async {
            random::seed_thread(ChaCha8Rng::seed_from_u64(9));
            let identity = seeded_identity(9, "CA");
            let server_cfg = server_config(&identity, seeded_provider(), fixed(), None);
            let mut roots = rustls::RootCertStore::empty();
            roots.add(identity.ca().clone()).unwrap();
            let client_cfg =
                rustls::ClientConfig::builder_with_details(seeded_provider(), Arc::new(Fixed(0)))
                    .with_protocol_versions(&[&rustls::version::TLS12])
                    .unwrap()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
            let (mut client, mut server, wire) = pipe(64 * 1024);
            let (s, c) = tokio::join!(
                server.start_server(server_cfg),
                client.start_client(Arc::new(client_cfg), HOST)
            );
            s.unwrap();
            let note = c.unwrap().to_string();
            random::clear_thread();
            (note, wire.take())
        })
    };
    let (note, wire) = run();
    assert_eq!(
        note,
        "TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, peer CN=mail.example.org"
    );
    assert!(run().1 == wire, "TLS 1.2 replays too");
}

#[test]
fn generated_identity_serves_with_the_live_provider() {
    let identity = Identity::generated(HOST);
    assert_eq!(identity.subject, "CN=mail.example.org");
    let other = Identity::generated(HOST);
    assert_ne!(identity.ca(), other.ca(), "fresh keys each time");
    runtime().block_on(async {
        let server_cfg = server_config(&identity, live_provider(), None, None);
        let client_cfg = client_config(
            Verify::Roots(vec![identity.ca().clone()]),
            live_provider(),
            None,
            None,
        );
        let (mut client, mut server, _wire) = pipe(64 * 1024);
        let (s, c) = tokio::join!(
            server.start_server(server_cfg),
            client.start_client(client_cfg, HOST)
        );
        s.expect("server side");
        let hs = c.expect("trusted");
        assert_eq!(hs.version, "TLSv1.3");
        assert_eq!(hs.peer_subject.as_deref(), Some("CN=mail.example.org"));
        client.write_all(b"EHLO x\r\n").await.unwrap();
        assert_eq!(line(&mut server).await, "EHLO x\r\n");
    });
}

#[test]
fn starttls_twice_is_refused_and_the_session_stays() {
    runtime().block_on(async {
        random::seed_thread(ChaCha8Rng::seed_from_u64(4));
        let identity = seeded_identity(4, "CA");
        let server_cfg = server_config(&identity, seeded_provider(), fixed(), None);
        let client_cfg = client_config(Verify::Nothing, seeded_provider(), fixed(), None);
        let (mut client, mut server, _wire) = pipe(64 * 1024);
        let (s, c) = tokio::join!(
            server.start_server(server_cfg.clone()),
            client.start_client(client_cfg, HOST)
        );
        s.unwrap();
        c.unwrap();
        let err = server.start_server(server_cfg).await.unwrap_err();
        assert!(err.to_string().contains("already"), "{err}");
        assert!(server.is_tls());
        client.write_all(b"NOOP\r\n").await.unwrap();
        assert_eq!(line(&mut server).await, "NOOP\r\n");
        random::clear_thread();
    });
}
