//! Releasing a held message: the plan of steps (resets, the scan, the replayed envelope, DATA,
//! the content) run one reply at a time, the keepalives sent while a message is held, and the
//! client input that waits meanwhile (or, under `lock_step`, while any relayed command's reply
//! is owed).

use super::{ClientSide, InterceptorEvent, InterceptorSession, Origin, Pending, Step};
use crate::proto::dur::Dur;
use crate::proto::Time;
use std::collections::VecDeque;

impl InterceptorSession {
    /// Client commands that waited for a release go upstream now.
    pub(super) fn resume_backlog(&mut self, now: Time) {
        let mut to_server = Vec::new();
        while !self.must_wait() && !self.closed {
            match self.backlog.pop_front() {
                None => break,
                Some(Pending::Line(line)) => self.client_command(now, line, &mut to_server),
                Some(Pending::Chunk(bytes)) => self.client_chunk(bytes, &mut to_server),
            }
        }
        self.flush_relay(now, &mut to_server);
        if self.client_gone && !self.must_wait() && self.backlog.is_empty() && !self.server_gone {
            self.push(now, InterceptorEvent::CloseServer);
            self.server_gone = true;
            self.maybe_close(now);
        }
    }

    pub(super) fn start_release(&mut self, now: Time) {
        self.next_keepalive = None;
        let cfg = self.cfg.clone();
        let mut plan = VecDeque::new();
        for i in 0..cfg.upstream_resets {
            if i > 0 {
                plan.push_back(Step::Sleep(cfg.reset_interval.0));
            }
            plan.push_back(Step::Send(b"RSET\r\n".to_vec(), "reset"));
        }
        if !cfg.scan_delay.0.is_zero() {
            plan.push_back(Step::Scan(cfg.scan_delay.0));
        }
        if cfg.replay_envelope {
            if let Some(mail) = &self.mail_line {
                plan.push_back(Step::Send(mail.clone(), "replay"));
            }
            for rcpt in &self.accepted_rcpts {
                plan.push_back(Step::Send(rcpt.clone(), "replay"));
            }
        }
        if !cfg.hold_body || !cfg.data_reply.is_empty() {
            plan.push_back(Step::Data);
        }
        plan.push_back(Step::Body);
        self.note(
            now,
            format!("releasing the held message upstream ({} steps)", plan.len()),
        );
        self.plan = plan;
        self.run_plan(now);
    }

    pub(super) fn run_plan(&mut self, now: Time) {
        while !self.plan_waiting && self.plan_wake.is_none() {
            let Some(step) = self.plan.pop_front() else {
                return;
            };
            match step {
                Step::Sleep(d) => self.plan_wake = Some(now + d),
                Step::Scan(d) => {
                    self.note(now, format!("scanning the message for {}", Dur(d)));
                    self.plan_wake = Some(now + d);
                }
                Step::Send(bytes, what) => {
                    self.send_own(now, bytes, what);
                    self.plan_waiting = true;
                }
                Step::Data => {
                    self.send_own(now, b"DATA\r\n".to_vec(), "data");
                    self.plan_waiting = true;
                }
                Step::Body => {
                    let mut body = std::mem::take(&mut self.held);
                    body.extend_from_slice(b".\r\n");
                    self.push(now, InterceptorEvent::ToServer(body));
                    self.upstream.push_back(Origin::Own("body"));
                    self.plan_waiting = true;
                }
            }
        }
    }

    /// Keepalives run while the message is held: being typed, or complete and not yet released.
    pub(super) fn keepalive_active(&self) -> bool {
        !self.server_gone
            && (self.client_side == ClientSide::Holding
                || (self.held_complete && !self.release_running()))
    }

    /// Client input waits: a release runs, or (`lock_step`) a relayed command's reply is owed.
    pub(super) fn must_wait(&self) -> bool {
        self.release_running()
            || (self.cfg.lock_step && self.upstream.iter().any(|o| !matches!(o, Origin::Own(_))))
    }

    pub(super) fn release_running(&self) -> bool {
        self.plan_waiting || self.plan_wake.is_some() || !self.plan.is_empty()
    }

    pub(super) fn send_own(&mut self, now: Time, bytes: Vec<u8>, what: &'static str) {
        if self.server_gone {
            return;
        }
        self.push(now, InterceptorEvent::ToServer(bytes));
        self.upstream.push_back(Origin::Own(what));
    }
}
