//! Bring your own implementation: the hand-written server and client of `examples/` (the
//! same files) and small interceptors of the test's own, in simulated worlds built with
//! `smtpsim::world::World`; swept, shrunk and reported from Rust, judged by the oracle.

#[path = "../examples/support/client.rs"]
mod client;
#[path = "../examples/support/server.rs"]
mod server;

use smtpsim::oracle::Verdict;
use smtpsim::sim::byo::{self, Belief};
use smtpsim::world::World;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn server_world(lazy: bool) -> World {
    let world = World::sim("symantec-rset").faults("lossy-network");
    if lazy {
        world
            .server("tiny-server-lazy", server::serve_lazy)
            .replay_as("server_world(true)")
    } else {
        world.server("tiny-server", server::serve)
    }
}

fn client_world() -> World {
    World::sim("pix-mailguard")
        .faults("lossy-network")
        .client("tiny-client", client::send_all)
        .replay_as("client_world()")
}

#[test]
fn a_user_server_behind_symantec_rset_on_a_lossy_network_is_swept() {
    let report = server_world(false).sweep_with(0..120, 2, None, &|_| true);
    assert_eq!(report.runs, 120);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    // The faults did something: some messages were not delivered (the client gave up).
    assert!(report.verdicts.get("delivered").copied().unwrap_or(0) > 90);
    assert!(
        report.verdicts.get("failed").copied().unwrap_or(0) > 0,
        "{:?}",
        report.verdicts
    );
    // The same report whatever the thread count.
    assert_eq!(
        server_world(false).sweep_with(0..120, 1, None, &|_| true),
        report
    );

    // The lazy server (250 first, stored at QUIT) loses a message when the session ends
    // without QUIT: seed 701 of the example's sweep.
    let lazy = server_world(true).sweep(695..705);
    let broken: Vec<(u64, &str)> = lazy
        .violations
        .iter()
        .map(|v| (v.seed, v.invariant.as_str()))
        .collect();
    assert_eq!(broken, [(701, "silent-loss")]);
    assert_eq!(lazy.violations[0].replay, "server_world(true).run(701)");
    let run = server_world(true).run(701).unwrap();
    assert_eq!(run.report.messages[0].verdict, Verdict::Lost);
    assert!(run
        .header
        .iter()
        .any(|l| l.contains("server=tiny-server-lazy (own code)")));
    assert!(run
        .header
        .iter()
        .any(|l| l == "replay: server_world(true).run(701)"));
}

#[test]
fn a_user_client_that_retries_through_pix_mailguard_shrinks_a_duplicate() {
    let world = client_world();
    let report = world.sweep(1525..1540);
    assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
    let v = &report.violations[0];
    assert_eq!((v.seed, v.invariant.as_str()), (1532, "duplicate"));
    assert_eq!(v.replay, "client_world().run(1532)");

    let minimal = world.shrink_first(&report).unwrap().expect("a failure");
    assert_eq!(minimal.shrunk.invariant, "duplicate");
    assert!(minimal.shrunk.minimal.events.len() < minimal.shrunk.original.events.len());
    assert_eq!(minimal.shrunk.minimal.events.len(), 1);
    assert_eq!(minimal.run.report.violations[0].invariant, "duplicate");
    // Two connections from the client: its own retry, with what it believed in between.
    let text = smtpsim::format::text::render(&minimal.run);
    assert!(
        text.contains("message 1 deferred: next attempt at"),
        "{text}"
    );
    assert_eq!(minimal.run.report.messages[0].verdict, Verdict::Duplicated);
    // The shrunk plan replays to the same bytes.
    let again = world
        .run_with_plan(1532, minimal.shrunk.minimal.clone())
        .unwrap();
    assert_eq!(smtpsim::format::text::render(&again), text);

    // The careful client says it was in RFC 1047's gap: the second copy is allowed.
    let careful = World::sim("pix-mailguard")
        .faults("lossy-network")
        .client("tiny-client-careful", client::send_all_careful)
        .run(1532)
        .unwrap();
    assert!(careful.report.passed(), "{:?}", careful.report.violations);
    assert_eq!(
        careful.report.messages[0].verdict,
        Verdict::DuplicatedRfc1047
    );

    // Every report renders it with the Rust replay call.
    let html = world.html(&report).unwrap();
    assert!(html.contains("client_world().run(1532)"));
    assert!(html.contains("client_world().shrink(1532)"));
    let junit = smtpsim::format::junit::render(&report, &(1525..1540).collect::<Vec<_>>());
    assert!(junit.contains("client_world().run(1532)"), "{junit}");
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"seed\":1532"));
}

#[test]
fn the_oracle_judges_what_the_user_client_believes_not_a_profile() {
    // pix-mailguard's client profile (pipelining) has no queue; a user client that says a
    // message is deferred gets `deferred`, one that says it gave up gets `failed`.
    let says = |belief: Belief| {
        World::sim("pix-mailguard").client("teller", move |client| {
            let belief = belief.clone();
            async move {
                client.tell(0, belief);
            }
        })
    };
    let deferred = says(Belief::Deferred {
        next_attempt: std::time::Duration::from_secs(600),
        reason: "not yet".into(),
    });
    let result = deferred.run(0).unwrap();
    assert_eq!(result.report.messages[0].verdict, Verdict::Deferred);
    assert!(result.report.passed());
    // What it said, not where: the oracle does not invent a stage.
    assert_eq!(result.report.messages[0].client, "deferred (not yet)");
    let gave_up = says(Belief::GaveUp {
        reason: "enough".into(),
    });
    assert_eq!(
        gave_up.run(0).unwrap().report.messages[0].verdict,
        Verdict::Failed
    );
    // Told accepted while nothing was sent: the oracle calls it lost.
    let liar = says(Belief::Accepted).run(0).unwrap();
    assert_eq!(liar.report.messages[0].verdict, Verdict::Lost);
    assert_eq!(liar.report.violations[0].invariant, "silent-loss");
}

/// A proxy that relays everything, except that it shouts the words "plain line" on the
/// client's side: what reaches the server is not what the client sent.
async fn shouting_proxy(mut down: byo::Conn, upstream: byo::Upstream) {
    let Ok(mut up) = upstream.connect().await else {
        return;
    };
    let (mut a, mut b) = ([0u8; 2048], [0u8; 2048]);
    loop {
        tokio::select! {
            n = down.read(&mut a) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&a[..n]).replace("plain line", "PLAIN LINE");
                    let loud = text.into_bytes();
                    if up.write_all(&loud).await.is_err() { return }
                }
            },
            n = up.read(&mut b) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => if down.write_all(&b[..n]).await.is_err() { return },
            },
        }
    }
}

#[test]
fn a_user_proxy_is_judged_by_what_reaches_the_server() {
    let world = World::sim("passthrough-baseline").interceptor("shouting", shouting_proxy);
    let result = world.run(0).unwrap();
    assert!(result.header[2].contains("interceptor=shouting (own code)"));
    let text = smtpsim::format::text::render(&result);
    assert_eq!(
        result.report.messages[0].verdict,
        Verdict::Corrupted,
        "{text}"
    );
    assert_eq!(
        result.report.violations[0].invariant, "corruption",
        "{text}"
    );
    assert!(
        result.report.violations[0].detail.contains("body changed"),
        "{text}"
    );
}

#[test]
fn spawn_keeps_the_socket_and_returns_a_handle() {
    // The server's session runs in a task it spawned; the handle gives back its result.
    let world = World::sim("passthrough-baseline").server("spawner", |conn, mailbox| async move {
        let handle = byo::spawn(server::serve(conn, mailbox));
        handle.await.expect("the session ran to its end");
    });
    let result = world.run(0).unwrap();
    assert!(result.report.passed(), "{:?}", result.report.violations);
    assert_eq!(result.deliveries.len(), 1);

    // Outside a simulation: an error, not a panic.
    let outside = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(byo::spawn(async { 7 }));
    assert!(outside
        .unwrap_err()
        .to_string()
        .contains("outside a simulated host"));
}

#[test]
fn a_panicking_user_role_is_a_violation_not_a_crash() {
    let world = World::sim("passthrough-baseline").server("panicky", |_conn, _mailbox| async {
        panic!("boom");
    });
    let result = world.run(0).unwrap();
    let panics: Vec<&str> = result
        .report
        .violations
        .iter()
        .filter(|v| v.invariant == "own-code-panic")
        .map(|v| v.detail.as_str())
        .collect();
    assert!(
        !panics.is_empty() && panics[0].contains("the server panicked: boom"),
        "{panics:?}"
    );
    // A factory that panics before its future: the same.
    let world = World::sim("passthrough-baseline")
        .client("eager", |_client| -> std::future::Ready<()> {
            panic!("no future for you")
        });
    let result = world.run(0).unwrap();
    assert!(result
        .report
        .violations
        .iter()
        .any(|v| v.detail.contains("the client panicked: no future for you")));
}

#[test]
fn bad_names_are_errors_that_say_what_exists() {
    let e = World::sim("symantec-rset")
        .faults("no-such-preset")
        .run(0)
        .unwrap_err();
    assert!(e.to_string().contains("no-such-preset"), "{e}");
    let e = World::sim("symantec-rset")
        .interceptor_preset("nope")
        .run(0)
        .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    let report = World::sim("nothing").sweep(0..2);
    assert_eq!(report.violations[0].invariant, "simulation-error");
}

#[test]
fn a_conn_kept_past_its_run_is_an_error_not_a_panic() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let world = World::sim("passthrough-baseline").server("keeper", move |conn, _mailbox| {
        let _ = tx.lock().unwrap().send(conn);
        async {}
    });
    world.run(0).unwrap();
    let mut kept = rx.try_recv().expect("the server kept its connection");
    let written = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(kept.write_all(b"QUIT\r\n"));
    let e = written.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotConnected);
    assert!(e.to_string().contains("outside the run"), "{e}");
    drop(kept);
}
