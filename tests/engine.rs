//! The event-driven engine's network on real TCP semantics: retransmission through a short
//! partition, a reset after a long one, crashes that send nothing and answer with a RST after
//! the restart, holds that reorder nothing, the Postfix queue schedule over hours, and the pcap
//! being the packets themselves.

use smtpsim::fault::{FaultEvent, FaultPlan, Host, Link};
use smtpsim::oracle::Verdict;
use smtpsim::profile::Dur;
use smtpsim::scenario::Scenario;
use smtpsim::sim::network::Captured;
use smtpsim::sim::RunResult;
use smtpsim::transcript::EventKind;
use std::time::Duration;
use turmoil_net::Transport;

fn load(name: &str) -> Scenario {
    let path = format!("{}/sims/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Scenario::load(path.as_ref()).expect("valid scenario")
}

fn connects(r: &RunResult, from: &str) -> Vec<Duration> {
    r.events
        .iter()
        .filter(|e| e.from == from && matches!(e.kind, EventKind::Connect))
        .map(|e| e.at)
        .collect()
}

fn resets(r: &RunResult, seen_by: &str) -> Vec<Duration> {
    r.events
        .iter()
        .filter(|e| e.from == seen_by && matches!(e.kind, EventKind::Reset(_)))
        .map(|e| e.at)
        .collect()
}

/// Data segments that repeat a sequence range already sent in the same direction.
fn retransmissions(packets: &[Captured]) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    let mut repeats = 0;
    for c in packets {
        let Transport::Tcp(seg) = &c.packet.payload else {
            continue;
        };
        if seg.payload.is_empty() {
            continue;
        }
        let key = (
            c.packet.src,
            seg.src_port,
            c.packet.dst,
            seg.dst_port,
            seg.seq,
        );
        if !seen.insert(key) {
            repeats += 1;
        }
    }
    repeats
}

#[test]
fn a_partition_shorter_than_the_give_up_is_only_slower() {
    let s = load("partition-heals");
    let r = smtpsim::sim::run_captured(&s, 0).expect("runs");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(r.report.messages[0].verdict, Verdict::Delivered);
    assert_eq!(r.deliveries.len(), 1);
    assert_eq!(r.outcomes.len(), 1, "no SMTP retry");
    assert_eq!(connects(&r, "client").len(), 1);
    assert!(resets(&r, "interceptor").is_empty());
    // ssmtp writes its last line at 12.1 s and, after its 1 s pause, '.' at 14.1 s: after
    // the partition healed (6.5 s + 5 s); the lines written into it were retransmitted.
    let delivered_at = r
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Delivered { .. }))
        .map(|e| e.at)
        .unwrap();
    assert!(
        delivered_at >= Duration::from_millis(14_113),
        "{delivered_at:?}"
    );
    assert!(
        delivered_at < Duration::from_millis(14_400),
        "{delivered_at:?}"
    );
    assert!(
        retransmissions(&r.packets) >= 20,
        "retransmitted every 200 ms for 5 s"
    );
    let lost = r.packets.iter().filter(|c| c.fate == "lost").count();
    assert!(lost >= 20, "{lost}");
}

#[test]
fn a_partition_longer_than_the_give_up_resets_the_connection() {
    let s = load("partition-heals");
    let plan = FaultPlan {
        events: vec![FaultEvent::Partition {
            link: Link::ServerSide,
            at: Dur::millis(6_500),
            duration: Dur::secs(25),
        }],
    };
    let r = smtpsim::sim::run_with_plan(&s, 0, plan).expect("runs");
    // The interceptor's stack gives up 20 s after the last acknowledgement (200 ms × 100).
    let reset = resets(&r, "interceptor");
    assert!(!reset.is_empty(), "the interceptor saw its upstream reset");
    assert!(
        reset[0] > Duration::from_secs(25) && reset[0] < Duration::from_secs(28),
        "{reset:?}"
    );
    assert!(r.report.passed(), "{:?}", r.report.violations);
    // ssmtp has no queue: it reports the failure and does not retry; nothing half-delivered.
    assert!(r.deliveries.is_empty());
    assert_eq!(connects(&r, "client").len(), 1);
    assert_eq!(r.report.messages[0].verdict, Verdict::Failed);
}

#[test]
fn a_crashed_server_sends_nothing_and_answers_the_next_segment_with_a_reset() {
    let s = load("server-crash-after-dot");
    let r = smtpsim::sim::run_captured(&s, 0).expect("runs");
    let note = |text: &str| {
        r.events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::Note(t) if t.contains(text)))
            .map(|e| e.at)
            .unwrap_or_else(|| panic!("no note {text:?}"))
    };
    let crashed = note("server crashed");
    let restarted = note("restarted");
    let server_ip = r
        .endpoints
        .values()
        .next()
        .map(|(_, server)| server.split(':').next().unwrap().to_string())
        .unwrap();
    // Nothing leaves the server from its crash to its restart (a FIN or RST would be a lie).
    let from_server_while_down = r
        .packets
        .iter()
        .filter(|c| c.packet.src.to_string() == server_ip)
        .filter(|c| c.at >= crashed && c.at < restarted && c.fate == "sent")
        .count();
    assert_eq!(from_server_while_down, 0);
    // After the restart, the client's next retransmission is answered with a RST.
    let first_rst = r
        .packets
        .iter()
        .find(|c| matches!(&c.packet.payload, Transport::Tcp(seg) if seg.flags.rst))
        .expect("a RST");
    assert_eq!(first_rst.packet.src.to_string(), server_ip);
    assert!(first_rst.at > restarted);
    assert!(first_rst.at < restarted + Duration::from_millis(250));
    let client_reset = resets(&r, "client");
    assert!(client_reset.iter().any(|t| *t > restarted));
    assert_eq!(r.report.messages[0].verdict, Verdict::DuplicatedRfc1047);
}

#[test]
fn a_host_that_stays_down_is_timed_out_not_reset() {
    let s = load("passthrough-baseline");
    let plan = FaultPlan {
        events: vec![FaultEvent::Crash {
            host: Host::Server,
            at: Dur::millis(70),
            restart_after: Dur::secs(29),
        }],
    };
    let r = smtpsim::sim::run_with_plan(&s, 0, plan).expect("runs");
    // The interceptor's upstream connection dies of retransmission give-up, silently.
    let up_resets: Vec<_> = r
        .events
        .iter()
        .filter(|e| e.from == "interceptor" && matches!(&e.kind, EventKind::Reset(_)))
        .collect();
    assert!(!up_resets.is_empty());
    assert!(
        up_resets[0].at > Duration::from_secs(20),
        "{:?}",
        up_resets[0]
    );
    assert!(r.report.passed(), "{:?}", r.report.violations);
}

#[test]
fn a_delay_spike_reorders_nothing_inside_a_stream() {
    let s = load("passthrough-baseline");
    for at in [40, 55, 60, 65, 70] {
        let plan = FaultPlan {
            events: vec![FaultEvent::Hold {
                link: Link::ServerSide,
                at: Dur::millis(at),
                duration: Dur::millis(900),
            }],
        };
        let r = smtpsim::sim::run_with_plan(&s, 0, plan).expect("runs");
        assert!(
            r.report.passed(),
            "hold at {at} ms: {:?}",
            r.report.violations
        );
        assert_eq!(r.deliveries.len(), 1);
        assert_eq!(r.report.messages[0].verdict, Verdict::Delivered);
    }
}

#[test]
fn the_postfix_queue_retries_over_hours_at_queue_scans() {
    let s = load("postfix-queue-retry");
    let r = smtpsim::sim::run(&s, 0).expect("runs");
    let secs: Vec<u64> = connects(&r, "client").iter().map(|t| t.as_secs()).collect();
    // Deferred at 0 s; the wait is the time in the queue clamped to 300..4000 s, the attempt
    // at the next 300 s queue scan: 600, 1500, 3300, 6900, then 11100 (after the 3 h outage).
    assert_eq!(secs, vec![0, 600, 1500, 3300, 6900, 11100]);
    assert_eq!(r.deliveries.len(), 1);
    assert_eq!(r.report.messages[0].verdict, Verdict::Delivered);
    assert!(r.elapsed > Duration::from_secs(3 * 3600));
    assert!(
        r.engine.turns < 2_000,
        "3 hours of virtual time take {} turns",
        r.engine.turns
    );
}

#[test]
fn a_message_deferred_past_the_queue_lifetime_bounces() {
    let mut s = load("postfix-queue-retry");
    s.server.storage_full_until = Dur::secs(6 * 24 * 3600);
    let r = smtpsim::sim::run(&s, 0).expect("runs");
    assert_eq!(r.deliveries.len(), 0);
    assert_eq!(r.report.messages[0].verdict, Verdict::Bounced);
    let last = r.outcomes.last().unwrap();
    assert!(last.reason.as_deref().unwrap().starts_with("expired"));
    // 4000 s apart once the message is older than that: about 5 days / 4000 s attempts.
    let attempts = connects(&r, "client").len();
    assert!((105..=115).contains(&attempts), "{attempts}");
    assert!(r.report.passed(), "{:?}", r.report.violations);
}

#[test]
fn the_pcap_is_the_simulated_packets() {
    let s = load("symantec-rset");
    let r = smtpsim::sim::run_captured(&s, 0).expect("runs");
    let tcp = |c: &Captured| match &c.packet.payload {
        Transport::Tcp(seg) => Some(seg.clone()),
        Transport::Udp(_) => None,
    };
    let syns = r
        .packets
        .iter()
        .filter_map(tcp)
        .filter(|s| s.flags.syn && !s.flags.ack)
        .count();
    let fins = r
        .packets
        .iter()
        .filter_map(tcp)
        .filter(|s| s.flags.fin)
        .count();
    assert_eq!(syns, 2, "two connections");
    assert_eq!(fins, 4, "each side closes each connection");
    let pcap = smtpsim::format::render(smtpsim::format::Format::Pcap, &r, "x");
    assert_eq!(
        pcap.len(),
        24 + r
            .packets
            .iter()
            .map(|c| 16
                + 40
                + match &c.packet.payload {
                    Transport::Tcp(seg) => seg.payload.len(),
                    Transport::Udp(_) => 0,
                })
            .sum::<usize>()
    );
    // The same run, twice: the same bytes.
    let again = smtpsim::sim::run_captured(&s, 0).expect("runs");
    assert_eq!(
        pcap,
        smtpsim::format::render(smtpsim::format::Format::Pcap, &again, "x")
    );
}

#[test]
fn an_unreachable_upstream_gets_the_interceptor_s_421_in_the_simulation_as_live() {
    let mut s = load("passthrough-baseline");
    // A client with a queue, so that the restart can be seen to deliver it.
    s.client = smtpsim::profile::ClientConfig::preset("postfix-queue").expect("preset");
    let plan = FaultPlan {
        events: vec![FaultEvent::Crash {
            host: Host::Server,
            at: Dur::millis(0),
            restart_after: Dur::secs(40),
        }],
    };
    let r = smtpsim::sim::run_with_plan(&s, 0, plan).expect("runs");
    let failed = r
        .events
        .iter()
        .find(|e| e.from == "interceptor" && matches!(e.kind, EventKind::ConnectFailed(_)))
        .expect("the upstream connect failed");
    // The SYN to a host that is down is retransmitted until TCP gives up.
    assert!(failed.at >= Duration::from_secs(20), "{:?}", failed.at);
    let told = r.events.iter().any(|e| {
        e.from == "interceptor"
            && e.to == "client"
            && matches!(&e.kind, EventKind::Data(b) if b.starts_with(b"421 4.4.1 upstream unreachable"))
    });
    assert!(told, "the client was told why");
    assert!(r.report.passed(), "{:?}", r.report.violations);
    assert_eq!(
        r.deliveries.len(),
        1,
        "delivered by a queue retry after the restart"
    );
}

#[test]
fn a_run_that_reaches_its_time_limit_says_who_waits_for_whom() {
    let path = format!("{}/tests/fixtures/stuck.toml", env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(path.as_ref()).expect("valid scenario");
    let r = smtpsim::sim::run(&scenario, 0).expect("a stuck run still ends");
    let liveness: Vec<_> = r
        .report
        .violations
        .iter()
        .filter(|v| v.invariant == "liveness")
        .collect();
    assert_eq!(liveness.len(), 1, "{:?}", r.report.violations);
    assert!(
        liveness[0].detail.contains("time limit (60.000s)")
            && liveness[0]
                .detail
                .contains("client waits for server after `DATA` on c1"),
        "{}",
        liveness[0].detail
    );
    // Every sim ends on its own: none reaches its limit.
    for sim in ["symantec-rset", "partition-heals", "postfix-queue-retry"] {
        let r = smtpsim::sim::run(&load(sim), 0).unwrap();
        assert!(
            !r.report
                .violations
                .iter()
                .any(|v| v.invariant == "liveness"),
            "{sim}"
        );
    }
}
