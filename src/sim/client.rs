//! The client actor: a queue in front of [`ClientSession`], as Postfix's qmgr is in front of
//! its smtp client. A 4xx, a timeout or a lost connection means retry later with backoff; a
//! 5xx is final; a message a connection did not get to goes on the next one.

use crate::actor::{self, plumbing, Recorded, TlsSetup};
use crate::fault::Writer;
use crate::net;
use crate::profile::{ClientConfig, Dur};
use crate::proto::client::{ClientSession, Message, Outcome, Stage, Status};
use crate::proto::client::{RetrySchedule, TlsPolicy};
use crate::tls::MaybeTls;
use crate::transcript::{EventKind, Transcript};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::stream::{self, SimStream};
use super::SMTP_PORT;
use crate::fault::FaultState;

/// Every attempt's outcome, with the connection it happened on (0: none).
pub type Outcomes = Arc<Mutex<Vec<(u32, Outcome)>>>;

struct Pending {
    message: Message,
    /// Attempts that ended deferred so far.
    failures: u32,
    ready_at: Duration,
}

/// What the client actor shares with the rest of the world: the transcript, the outcomes
/// the oracle reads, the fault state and its TLS setup.
pub type World = (Transcript, Outcomes, Arc<FaultState>, TlsSetup);

/// Sends every message to `target`, retrying as configured, until each has a final outcome.
/// `forget_refused`: the [`Mutant::ForgetRefusedRecipient`](super::Mutant) defect.
pub async fn run(
    cfg: Arc<ClientConfig>,
    messages: Vec<Message>,
    target: &'static str,
    (transcript, outcomes, faults, tls): World,
    forget_refused: bool,
) {
    // After a failed handshake under `may`, the next connection goes without TLS (Postfix's
    // plaintext fallback, RETRY_AS_PLAINTEXT); the one after that tries TLS again.
    let plaintext = Arc::new(ClientConfig {
        tls: TlsPolicy::None,
        ..(*cfg).clone()
    });
    let mut fallback = false;
    let mut queue: Vec<Pending> = messages
        .into_iter()
        .map(|m| Pending {
            ready_at: m.at,
            message: m,
            failures: 0,
        })
        .collect();
    while let Some(next) = queue.iter().map(|p| p.ready_at).min() {
        net::sleep_until(next).await;
        // The connection gets every queued message, soonest first; one that reuses
        // connections may wait for later ones within its idle limit.
        let mut batch = std::mem::take(&mut queue);
        batch.sort_by_key(|p| (p.ready_at, p.message.id));

        let connect =
            tokio::time::timeout(cfg.timeout_connect.0, stream::connect(target, SMTP_PORT)).await;
        let stream = match connect {
            Ok(Ok(stream)) => stream,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timeout".to_string(),
                };
                transcript.record(
                    net::now(),
                    0,
                    "client",
                    target,
                    EventKind::ConnectFailed(why.clone()),
                );
                for p in batch {
                    let outcome = connect_failure(&p.message, &why);
                    requeue(&cfg, &transcript, &outcomes, &mut queue, p, 0, outcome);
                }
                continue;
            }
        };
        let stream = plumbing::opened(
            stream,
            &transcript,
            "client",
            target,
            &faults.transport(Writer::Client, net::now()),
            false,
        );
        let conn = stream.conn();
        let messages: Vec<Message> = batch
            .iter()
            .map(|p| Message {
                at: p.ready_at,
                ..p.message.clone()
            })
            .collect();
        let session_cfg = if std::mem::take(&mut fallback) {
            plaintext.clone()
        } else {
            cfg.clone()
        };
        let session = ClientSession::new(session_cfg, messages, net::now());
        let results = actor::client::drive(stream, session, &tls).await;
        for outcome in results {
            if outcome.stage == Stage::StartTls && outcome.status == Status::NotAttempted {
                // Handed back for the plaintext retry: at once, no penalty.
                fallback = true;
                if let Some(i) = batch.iter().position(|p| p.message.id == outcome.id) {
                    let p = batch.swap_remove(i);
                    queue.push(Pending {
                        ready_at: net::now().max(p.ready_at),
                        ..p
                    });
                }
                continue;
            }
            let Some(i) = batch.iter().position(|p| p.message.id == outcome.id) else {
                continue;
            };
            let p = batch.swap_remove(i);
            if forget_refused && outcome.status == Status::Accepted {
                outcomes.lock().expect("outcomes").push((conn, outcome));
                continue;
            }
            requeue(&cfg, &transcript, &outcomes, &mut queue, p, conn, outcome);
        }
        // Anything the session did not report on goes round again.
        for p in batch {
            queue.push(Pending {
                ready_at: net::now().max(p.ready_at),
                ..p
            });
        }
    }
}

/// Records an attempt and decides what happens next to its message.
fn requeue(
    cfg: &ClientConfig,
    transcript: &Transcript,
    outcomes: &Outcomes,
    queue: &mut Vec<Pending>,
    p: Pending,
    conn: u32,
    outcome: Outcome,
) {
    let now = net::now();
    let clean_skip = outcome.status == Status::NotAttempted
        && outcome.reply.is_none()
        && outcome.reason.is_none();
    if clean_skip {
        // The connection ended before this message's turn: next connection, no penalty.
        queue.push(Pending {
            ready_at: now.max(p.ready_at),
            ..p
        });
        return;
    }
    if outcome.status == Status::Accepted && cfg.has_queue() {
        return requeue_refused_recipients(cfg, transcript, outcomes, queue, p, conn, outcome);
    }
    let deferred = matches!(outcome.status, Status::Deferred | Status::NotAttempted);
    let next = if deferred {
        next_attempt(cfg, &p, now)
    } else {
        Next::Final
    };
    match next {
        Next::Final => outcomes.lock().expect("outcomes").push((conn, outcome)),
        Next::At(ready_at) => {
            let mut outcome = outcome;
            outcome.retry_at = Some(ready_at);
            // Recipients refused for good in this attempt bounce; the rest go round again
            // (Postfix, measured: a 554 to one RCPT and a 421 after '.' retry only the other).
            let mut p = p;
            p.message.to.retain(|to| {
                !outcome
                    .refused
                    .iter()
                    .any(|(r, reply)| r == to && reply.class() == 5)
            });
            if p.message.to.is_empty() {
                outcome.retry_at = None;
                outcomes.lock().expect("outcomes").push((conn, outcome));
                return;
            }
            let retry = Retry {
                conn,
                ready_at,
                recipients: None,
            };
            retry.schedule(transcript, outcomes, queue, outcome, p);
        }
        Next::Expired => {
            // Postfix returns it to the sender: a bounce the client's side decided.
            let lifetime = Dur(cfg.queue_lifetime.0);
            let reason = format!(
                "expired: deferred for longer than the queue lifetime {lifetime} ({})",
                outcome.reason.clone().unwrap_or_default()
            );
            outcomes.lock().expect("outcomes").push((
                conn,
                Outcome {
                    status: Status::Rejected,
                    reason: Some(reason),
                    ..outcome
                },
            ));
        }
    }
}

/// A message the server accepted with some recipients refused with a 4xx: a client with a
/// queue keeps those recipients queued and tries them again (Postfix does, measured), or
/// bounces them when they are too old.
fn requeue_refused_recipients(
    cfg: &ClientConfig,
    transcript: &Transcript,
    outcomes: &Outcomes,
    queue: &mut Vec<Pending>,
    p: Pending,
    conn: u32,
    outcome: Outcome,
) {
    let now = net::now();
    let left: Vec<String> = outcome
        .refused
        .iter()
        .filter(|(_, reply)| reply.class() == 4)
        .map(|(to, _)| to.clone())
        .collect();
    if left.is_empty() {
        outcomes.lock().expect("outcomes").push((conn, outcome));
        return;
    }
    let rest = Pending {
        message: Message {
            to: left.clone(),
            ..p.message
        },
        ..p
    };
    match next_attempt(cfg, &rest, now) {
        Next::At(ready_at) => {
            let retry = Retry {
                conn,
                ready_at,
                recipients: Some(&left),
            };
            retry.schedule(transcript, outcomes, queue, outcome, rest);
        }
        Next::Final | Next::Expired => {
            let id = outcome.id;
            let stage = outcome.stage;
            outcomes.lock().expect("outcomes").push((conn, outcome));
            let reason =
                "recipients refused with a 4xx and no attempt left: returned to the sender";
            outcomes.lock().expect("outcomes").push((
                conn,
                Outcome {
                    id,
                    status: Status::Rejected,
                    stage,
                    reply: None,
                    reason: Some(reason.to_string()),
                    to: left,
                    refused: Vec::new(),
                    in_sync_gap: false,
                    retry_at: None,
                },
            ));
        }
    }
}

/// A deferred attempt going round again.
struct Retry<'a> {
    conn: u32,
    ready_at: Duration,
    /// The recipients going round, when not all of the message's.
    recipients: Option<&'a [String]>,
}

impl Retry<'_> {
    /// Notes the next attempt, records `outcome` with it and queues `p` for it.
    fn schedule(
        &self,
        transcript: &Transcript,
        outcomes: &Outcomes,
        queue: &mut Vec<Pending>,
        mut outcome: Outcome,
        p: Pending,
    ) {
        let whom = self.recipients.map_or(String::new(), |to| {
            let each: Vec<String> = to.iter().map(|a| format!("<{a}>")).collect();
            format!(" to {}", each.join(", "))
        });
        transcript.record(
            net::now(),
            self.conn,
            "client",
            "",
            EventKind::Note(format!(
                "message {}{whom} deferred: next attempt at {}",
                outcome.id + 1,
                Dur(self.ready_at).clock()
            )),
        );
        outcome.retry_at = Some(self.ready_at);
        outcomes
            .lock()
            .expect("outcomes")
            .push((self.conn, outcome));
        queue.push(Pending {
            ready_at: self.ready_at,
            failures: p.failures + 1,
            message: p.message,
        });
    }
}

/// What happens to a message after an attempt that left it deferred.
enum Next {
    /// Give up: its outcome stands.
    Final,
    /// Try again at this time.
    At(Duration),
    /// Too old: it bounces.
    Expired,
}

fn next_attempt(cfg: &ClientConfig, p: &Pending, now: Duration) -> Next {
    match cfg.retry_schedule {
        RetrySchedule::Doubling => {
            if p.failures >= cfg.retries {
                return Next::Final;
            }
            let backoff = cfg
                .retry_backoff
                .0
                .saturating_mul(1 << p.failures.min(16))
                .min(cfg.retry_backoff_max.0);
            Next::At(now + backoff)
        }
        RetrySchedule::PostfixQmgr => {
            // qmgr_active_done(): the delay is the time in the queue, clamped; the deferred
            // queue is scanned every queue_run_delay.
            let age = now.saturating_sub(p.message.at);
            if age >= cfg.queue_lifetime.0 {
                return Next::Expired;
            }
            let delay = age.clamp(
                cfg.retry_backoff.0,
                cfg.retry_backoff_max.0.max(cfg.retry_backoff.0),
            );
            let scan = cfg.queue_run_delay.0.max(Duration::from_secs(1));
            let due = now + delay;
            let scans = due.as_nanos().div_ceil(scan.as_nanos());
            Next::At(Duration::from_nanos((scans * scan.as_nanos()) as u64))
        }
    }
}

fn connect_failure(message: &Message, why: &str) -> Outcome {
    Outcome {
        id: message.id,
        status: Status::Deferred,
        stage: Stage::Connect,
        reply: None,
        reason: Some(format!("connect failed: {why}")),
        to: message.to.clone(),
        refused: Vec::new(),
        in_sync_gap: false,
        retry_at: None,
    }
}

/// The client's connection to `target`, recorded and with its transport faults; `None`
/// (recorded as a failed connect) if it cannot be opened.
async fn open(
    target: &'static str,
    transcript: &Transcript,
    faults: &FaultState,
) -> Option<(u32, Recorded<MaybeTls<SimStream>>)> {
    let stream = match stream::connect(target, SMTP_PORT).await {
        Ok(s) => s,
        Err(e) => {
            transcript.record(
                net::now(),
                0,
                "client",
                target,
                EventKind::ConnectFailed(e.to_string()),
            );
            return None;
        }
    };
    let stream = plumbing::opened(
        stream,
        transcript,
        "client",
        target,
        &faults.transport(Writer::Client, net::now()),
        false,
    );
    Some((stream.conn(), stream))
}

/// A replayed recording: one connection, the recorded writes, no retries.
pub async fn run_script(
    steps: Vec<crate::proto::script::ScriptStep>,
    target: &'static str,
    transcript: Transcript,
    outcomes: Outcomes,
    faults: Arc<FaultState>,
    tls: TlsSetup,
) {
    let Some((conn, stream)) = open(target, &transcript, &faults).await else {
        return;
    };
    let session = crate::proto::script::ScriptSession::new(steps, net::now());
    for outcome in actor::client::drive(stream, session, &tls).await {
        outcomes.lock().expect("outcomes").push((conn, outcome));
    }
}
