//! The timed events a session has decided on and its driver has not yet taken: one queue and
//! one rule for their order, shared by every session. An event is due no earlier than the
//! event decided before it, so events leave in the order they were decided; a delay (a
//! server's error sleep, a typist's pause) pushes back everything decided after it.

use super::Time;
use std::collections::VecDeque;

/// A session's queue of timed events.
#[derive(Debug, Clone)]
pub struct Outbox<E> {
    events: VecDeque<(Time, E)>,
    /// When the last event decided is due (it may have left already).
    last: Time,
}

impl<E> Outbox<E> {
    /// An empty queue for a session that starts at `now`.
    pub fn new(now: Time) -> Self {
        Outbox {
            events: VecDeque::new(),
            last: now,
        }
    }

    /// Queues `event` at `now`, or when the event decided before it is due, if later.
    pub fn push(&mut self, now: Time, event: E) {
        self.push_after(now, Time::ZERO, event);
    }

    /// Queues `event` `delay` after `now` (or after the event decided before it, if later).
    pub fn push_after(&mut self, now: Time, delay: Time, event: E) {
        self.last = self.last.max(now) + delay;
        self.events.push_back((self.last, event));
    }

    /// The next event due at or before `now`, with its time.
    pub fn poll(&mut self, now: Time) -> Option<(Time, E)> {
        match self.events.front() {
            Some((at, _)) if *at <= now => self.events.pop_front(),
            _ => None,
        }
    }

    /// When the next event is due.
    pub fn next_deadline(&self) -> Option<Time> {
        self.events.front().map(|(at, _)| *at)
    }

    /// When the last event decided is due (or was, if it left).
    pub fn last_due(&self) -> Time {
        self.last
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Drops the events `keep` refuses; later events are due from `now` on again.
    pub fn retain(&mut self, now: Time, keep: impl FnMut(&E) -> bool) {
        let mut keep = keep;
        self.events.retain(|(_, e)| keep(e));
        self.last = self.events.back().map_or(now, |(t, _)| *t).max(now);
    }
}
