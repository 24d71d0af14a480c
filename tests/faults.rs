//! Fault plans, sweeps and shrinking: seeds decide plans, results do not depend on threads or
//! shards, a shrunk plan still fails the same way, and a printed plan replays.

use smtpsim::scenario::Scenario;
use smtpsim::sweep::{self, Shard};

fn load(name: &str, faults: &str) -> Scenario {
    let path = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Scenario::load(path.as_ref())
        .expect("valid scenario")
        .with_fault_profile(faults)
        .expect("known preset")
}

use smtpsim::sweep::quiet;

#[test]
fn the_same_seed_draws_the_same_plan_and_other_seeds_differ() {
    let s = load("passthrough-baseline", "chaos");
    let a = smtpsim::sim::plan_for(&s, 42);
    assert_eq!(a, smtpsim::sim::plan_for(&s, 42));
    let distinct = (0..20)
        .map(|seed| format!("{:?}", smtpsim::sim::plan_for(&s, seed)))
        .collect::<std::collections::BTreeSet<_>>();
    assert!(
        distinct.len() > 10,
        "plans barely depend on the seed: {} distinct of 20",
        distinct.len()
    );
}

#[test]
fn sweep_results_do_not_depend_on_jobs_or_shards() {
    let s = load("symantec-telnet", "lossy-network");
    let file = "sims/symantec-telnet.toml";
    let one = sweep::sweep(&s, file, 0..120, 1, None, &quiet);
    let two = sweep::sweep(&s, file, 0..120, 2, None, &quiet);
    assert_eq!(one, two);
    let a = sweep::sweep(
        &s,
        file,
        0..120,
        2,
        Some(Shard::parse("1/2").unwrap()),
        &quiet,
    );
    let b = sweep::sweep(
        &s,
        file,
        0..120,
        1,
        Some(Shard::parse("2/2").unwrap()),
        &quiet,
    );
    assert_eq!(a.runs + b.runs, 120);
    let merged = sweep::merge(&[b, a], &["b.json".into(), "a.json".into()]).expect("mergeable");
    assert_eq!(
        serde_json::to_string(&merged).unwrap(),
        serde_json::to_string(&one).unwrap()
    );
}

#[test]
fn lossy_network_never_breaks_an_invariant_through_a_transparent_proxy() {
    let s = load("passthrough-baseline", "lossy-network");
    let report = sweep::sweep(
        &s,
        "sims/passthrough-baseline.toml",
        0..400,
        2,
        None,
        &quiet,
    );
    assert_eq!(report.runs, 400);
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(report.verdicts.values().sum::<u64>(), 400);
}

#[test]
fn early_ack_under_network_faults_loses_mail_silently_and_the_replay_matches() {
    let s = load("symantec-telnet", "lossy-network");
    let report = sweep::sweep(&s, "sims/symantec-telnet.toml", 0..300, 2, None, &quiet);
    let loss = report
        .violations
        .iter()
        .find(|v| v.invariant == "silent-loss")
        .expect("some seed loses mail after the early ack");
    assert_eq!(
        loss.replay,
        format!(
            "smtpsim run sims/symantec-telnet.toml --seed {} --faults lossy-network",
            loss.seed
        )
    );
    let replayed = smtpsim::sim::run(&s, loss.seed).expect("runs");
    assert!(replayed
        .report
        .violations
        .iter()
        .any(|v| v.invariant == "silent-loss"));
    let again = smtpsim::sim::run(&s, loss.seed).expect("runs");
    assert_eq!(
        smtpsim::format::text::render(&replayed),
        smtpsim::format::text::render(&again)
    );
}

#[test]
fn shrink_keeps_the_failure_with_fewer_events_and_the_printed_plan_replays_it() {
    let s = load("symantec-telnet", "lossy-network");
    // The first failing seed whose plan has more than one event.
    let seed = (0..2000)
        .find(|&seed| {
            smtpsim::sim::plan_for(&s, seed).events.len() > 1
                && !smtpsim::sim::run(&s, seed).expect("runs").report.passed()
        })
        .expect("a failing seed with several fault events");
    let shrunk = smtpsim::shrink::shrink(&s, seed)
        .expect("runs")
        .expect("the seed fails");
    assert!(
        shrunk.minimal.events.len() < shrunk.original.events.len(),
        "{shrunk:#?}"
    );
    let rerun = smtpsim::sim::run_with_plan(&s, seed, shrunk.minimal.clone()).expect("runs");
    assert_eq!(rerun.report.violations[0].invariant, shrunk.invariant);

    // Paste the printed [faults] table into the scenario: the same run, from the file alone.
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/symantec-telnet.toml"
    ))
    .unwrap();
    let pasted = format!("{original}\n{}", shrunk.minimal.to_toml(&s.fault_config));
    let from_file = Scenario::parse(&pasted, "pasted.toml").expect("the printed plan parses");
    assert_eq!(from_file.faults, "none");
    let replay = smtpsim::sim::run(&from_file, seed).expect("runs");
    assert_eq!(replay.events, rerun.events);
    assert_eq!(replay.report, rerun.report);
}

#[test]
fn bad_seed_ranges_and_shards_are_rejected() {
    assert!(sweep::parse_seeds("10..5").is_err());
    assert!(sweep::parse_seeds("0-10").is_err());
    assert_eq!(sweep::parse_seeds("0..10000").unwrap(), 0..10000);
    assert!(Shard::parse("0/2").is_err());
    assert!(Shard::parse("3/2").is_err());
    assert!(Shard::parse("1/0").is_err());
}

#[test]
fn a_dropped_250_after_dot_is_an_rfc1047_duplicate_not_a_violation() {
    let text = |profile: &str| {
        format!(
            r#"
name = "drop-the-250"
seeds = [0]
[client]
profile = "{profile}"
tls = "none"
[[client.message]]
from = "a@example.org"
to = ["bob@example.org"]
body = "x\n"
[server]
mailboxes = ["bob@example.org"]
[[faults.event]]
kind = "drop-at-line"
writer = "server"
connection = 1
line = "250 2.0.0 Ok: queued"
"#
        )
    };
    // Postfix's queue retries: two copies, allowed by RFC 1047 and reported as such.
    let s = Scenario::parse(&text("postfix-queue"), "inline.toml").expect("valid");
    let r = smtpsim::sim::run(&s, 0).expect("runs");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(r.deliveries.len(), 2);
    assert_eq!(
        r.report.messages[0].verdict,
        smtpsim::oracle::Verdict::DuplicatedRfc1047
    );
    assert!(
        r.outcomes[0].in_sync_gap
            && r.outcomes[1].status == smtpsim::proto::client::Status::Accepted
    );
    // ssmtp has no queue: it reports the failure, and the one copy is delivered unconfirmed.
    let s = Scenario::parse(&text("ssmtp"), "inline.toml").expect("valid");
    let r = smtpsim::sim::run(&s, 0).expect("runs");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(r.deliveries.len(), 1);
    assert_eq!(r.outcomes.len(), 1);
    assert!(r.outcomes[0].in_sync_gap);
    assert_eq!(
        r.report.messages[0].verdict,
        smtpsim::oracle::Verdict::DeliveredUnconfirmed
    );
}

#[test]
fn coalesced_writes_carry_the_split_terminator_through_the_pix() {
    // The same client and PIX as pix-split-dot-duplicates, but the client's content and its
    // '.' leave in one segment: the PIX passes the end of data and the message arrives once.
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/pix-split-dot-duplicates.toml"
    ))
    .unwrap();
    let text = format!("{original}\n[[faults.event]]\nkind = \"coalesce\"\nwriter = \"client\"\nconnection = 1\nwindow = \"50ms\"\n");
    let s = Scenario::parse(&text, "coalesced.toml").expect("valid");
    let r = smtpsim::sim::run(&s, 0).expect("runs");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(r.deliveries.len(), 1);
    assert_eq!(
        r.report.messages[0].verdict,
        smtpsim::oracle::Verdict::Delivered
    );
    let coalesced = r.events.iter().any(|e| {
        e.from == "client" && matches!(&e.kind, smtpsim::transcript::EventKind::Data(b) if b.ends_with(b"\r\n.\r\n") && b.len() > 5)
    });
    assert!(coalesced, "the content and its '.' went out in one write");
}

#[test]
fn a_printed_plan_pastes_back_as_the_same_plan() {
    use smtpsim::fault::{FaultEvent, FaultPlan, Link};
    use smtpsim::profile::Dur;
    let paste = |s: &Scenario, plan: &FaultPlan| {
        let text = format!(
            "name = \"pasted\"\n[client]\nprofile = \"ssmtp\"\n[[client.message]]\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\nbody = \"x\"\n[interceptor]\nprofile = \"passthrough\"\n[server]\n{}",
            plan.to_toml(&s.fault_config)
        );
        Scenario::parse(&text, "pasted.toml")
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
            .fault_events
    };
    for preset in ["lossy-network", "flaky-server", "chaos"] {
        let s = load("passthrough-baseline", preset);
        for seed in 0..1000 {
            let plan = smtpsim::sim::plan_for(&s, seed);
            assert_eq!(paste(&s, &plan), plan.events, "{preset} seed {seed}");
        }
    }
    // Finer than a millisecond: printed so that it parses back exactly.
    let s = load("passthrough-baseline", "none");
    let plan = FaultPlan {
        events: vec![FaultEvent::Hold {
            link: Link::ServerSide,
            at: Dur::parse("2.5ms").unwrap(),
            duration: Dur::parse("1.25s").unwrap(),
        }],
    };
    assert_eq!(paste(&s, &plan), plan.events);
    assert_eq!(Dur::parse("2.5ms").unwrap().to_string(), "2.5ms");
    assert_eq!(Dur::parse("1.25s").unwrap().to_string(), "1250ms");
    assert_eq!(Dur::parse("0.001ms").unwrap().to_string(), "0.001ms");
}
