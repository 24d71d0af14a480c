//! A fault plan applied as connections and sessions open: which connection gets which
//! transport fault, which server session gets which application fault, and the crashes a
//! session asks for. Shared by the simulation and live `serve --faults`.

use super::{FaultEvent, FaultPlan, Host, ServerStage, Writer};
use crate::proto::server::StageFault;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared by every host of one run.
#[derive(Debug)]
pub struct FaultState {
    plan: FaultPlan,
    heal_at: Duration,
    connections: [AtomicU32; 4],
    server_sessions: AtomicU32,
    /// Crashes requested from inside a host (the server crashing after '.').
    pub crash_requests: Mutex<Vec<(Host, Duration)>>,
}

impl FaultState {
    /// Faults from `plan` until `heal_at`.
    pub fn new(plan: FaultPlan, heal_at: Duration) -> Arc<Self> {
        Arc::new(FaultState {
            plan,
            heal_at,
            connections: Default::default(),
            server_sessions: AtomicU32::new(0),
            crash_requests: Mutex::new(Vec::new()),
        })
    }

    /// The transport faults for `writer`'s next connection, opened at `now`.
    pub fn transport(&self, writer: Writer, now: Duration) -> Vec<FaultEvent> {
        let index = writer as usize;
        let n = self.connections[index].fetch_add(1, Ordering::SeqCst) + 1;
        if now >= self.heal_at {
            return Vec::new();
        }
        self.plan
            .events
            .iter()
            .filter(|e| e.transport_target() == Some((writer, n)))
            .cloned()
            .collect()
    }

    /// The application faults for the server's next session.
    pub fn server_session(&self) -> Vec<(ServerStage, StageFault)> {
        let n = self.server_sessions.fetch_add(1, Ordering::SeqCst) + 1;
        self.plan
            .events
            .iter()
            .filter_map(|e| match e {
                FaultEvent::ServerReply {
                    connection,
                    stage,
                    reply,
                    nth,
                } if *connection == n => Some((
                    *stage,
                    match nth {
                        Some(nth) => StageFault::ReplyAt {
                            nth: *nth,
                            text: reply.clone(),
                        },
                        None => StageFault::Reply(reply.clone()),
                    },
                )),
                FaultEvent::ServerDelay {
                    connection,
                    stage,
                    duration,
                } if *connection == n => Some((*stage, StageFault::Delay(duration.0))),
                FaultEvent::ServerCrashAfterDot {
                    connection,
                    restart_after,
                } if *connection == n => {
                    Some((ServerStage::Dot, StageFault::CrashAfterDot(restart_after.0)))
                }
                _ => None,
            })
            .collect()
    }
}
