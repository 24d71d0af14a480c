//! The run's director: between the engine's turns it carries out the fault plan's network
//! schedule (holds, partitions, crashes, the heal), the crashes a server session asks for and
//! their restarts, and decides when the run is over (the client done and every session ended,
//! the drain time up, or the time limit reached).

use super::engine::{Control, Flow};
use super::faults::{self, NetAction};
use super::Shared;
use crate::fault::{FaultPlan, FaultState, Host};
use crate::profile::Dur;
use crate::scenario::Scenario;
use crate::transcript::{EventKind, Transcript};
use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The control of one run.
pub(super) struct Director {
    schedule: VecDeque<(Duration, NetAction)>,
    restarts: Vec<(Duration, &'static str)>,
    interceptor: bool,
    limit: Duration,
    drain: Duration,
    client_done_at: Option<Duration>,
    transcript: Transcript,
    faults: Arc<FaultState>,
    open_sessions: Arc<AtomicUsize>,
    client_done: Rc<Cell<bool>>,
    stuck_at: Rc<Cell<Option<Duration>>>,
}

impl Director {
    pub(super) fn new(
        scenario: &Scenario,
        plan: &FaultPlan,
        heal_at: Duration,
        shared: &Shared,
    ) -> Self {
        let interceptor = scenario.interceptor.is_some();
        Director {
            schedule: faults::schedule(plan, interceptor, heal_at).into(),
            restarts: Vec::new(),
            interceptor,
            limit: scenario.network.time_limit.0,
            drain: scenario.network.drain.0,
            client_done_at: None,
            transcript: shared.transcript.clone(),
            faults: shared.faults.clone(),
            open_sessions: shared.open_sessions.clone(),
            client_done: shared.client_done.clone(),
            stuck_at: shared.stuck_at.clone(),
        }
    }

    /// One turn: what is due now, then stop or the next deadline.
    pub(super) fn turn(&mut self, world: &mut Control<'_>) -> Flow {
        let now = world.now();
        while self.schedule.front().is_some_and(|(t, _)| *t <= now) {
            let (_, action) = self.schedule.pop_front().expect("checked");
            apply(world, &self.transcript, action, self.interceptor);
        }
        self.crash_on_request(world);
        self.restart_due(world);
        if self.client_done.get() {
            let done = *self.client_done_at.get_or_insert(now);
            let drained = self.open_sessions.load(Ordering::SeqCst) == 0;
            if drained || now >= done + self.drain {
                return Flow::Stop;
            }
        }
        if now >= self.limit {
            let note = format!("time limit {} reached", Dur(self.limit));
            self.transcript
                .record(now, 0, "smtpsim", "", EventKind::Note(note));
            if !self.client_done.get() {
                self.stuck_at.set(Some(now));
            }
            return Flow::Stop;
        }
        let next = [
            self.schedule.front().map(|(t, _)| *t),
            self.restarts.iter().map(|(t, _)| *t).min(),
            self.client_done_at.map(|d| d + self.drain),
            Some(self.limit),
        ]
        .into_iter()
        .flatten()
        .min();
        Flow::Continue(next)
    }

    /// Crashes the server sessions asked for (between '.' and 250), with their restarts.
    fn crash_on_request(&mut self, world: &mut Control<'_>) {
        let requests: Vec<(Host, Duration)> = self
            .faults
            .crash_requests
            .lock()
            .expect("crash requests")
            .drain(..)
            .collect();
        for (host, restart_after) in requests {
            let crash = NetAction::Crash(host.name());
            apply(world, &self.transcript, crash, self.interceptor);
            self.restarts
                .push((world.now() + restart_after, host.name()));
        }
    }

    fn restart_due(&mut self, world: &mut Control<'_>) {
        let now = world.now();
        let transcript = &self.transcript;
        self.restarts.retain(|(t, host)| {
            if *t > now {
                return true;
            }
            if world.restart(host) {
                transcript.record(now, 0, host, "", EventKind::Note("fault: restarted".into()));
            }
            false
        });
    }
}

/// Carries out one network action.
fn apply(world: &mut Control<'_>, transcript: &Transcript, action: NetAction, interceptor: bool) {
    let now = world.now();
    let note = |text: String| transcript.record(now, 0, "network", "", EventKind::Note(text));
    match action {
        NetAction::Hold(a, b) => {
            world.network().hold(a, b);
            note(format!("fault: {a}<->{b} segments held"));
        }
        NetAction::Release(a, b) => {
            world.network().release(now, a, b);
            note(format!("fault: {a}<->{b} held segments released"));
        }
        NetAction::Partition(a, b) => {
            world.network().partition(a, b);
            note(format!("fault: {a}<->{b} partitioned (segments lost)"));
        }
        NetAction::Repair(a, b) => {
            let lost = world.network().repair(a, b);
            note(format!(
                "fault: {a}<->{b} repaired ({lost} segments lost meanwhile)"
            ));
        }
        NetAction::Crash(host) => {
            if world.crash(host) {
                note(format!("fault: {host} crashed"));
            }
        }
        NetAction::Bounce(host) => {
            if world.restart(host) {
                note(format!("fault: {host} restarted"));
            }
        }
        NetAction::Heal => {
            let links: &[(&str, &str)] = if interceptor {
                &[("client", "interceptor"), ("interceptor", "server")]
            } else {
                &[("client", "server")]
            };
            for (a, b) in links {
                world.network().release(now, a, b);
                world.network().repair(a, b);
            }
            for host in world.down() {
                world.restart(host);
            }
            note(
                "faults healed: links repaired, held segments released, crashed hosts restarted"
                    .into(),
            );
        }
    }
}
