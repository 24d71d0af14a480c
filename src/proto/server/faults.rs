//! Injected application faults: where they fire ([`ServerStage`]) and what they do.

use super::{ServerEvent, ServerSession};
use crate::proto::dur::Dur;
use crate::proto::Time;

/// Where in a server session an application fault fires.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ServerStage {
    /// The banner.
    Connect,
    /// HELO/EHLO.
    Helo,
    /// MAIL.
    Mail,
    /// RCPT.
    Rcpt,
    /// DATA.
    Data,
    /// The final '.'.
    Dot,
}

impl ServerStage {
    /// Every stage, in the order a session meets them.
    pub const ALL: [ServerStage; 6] = [
        ServerStage::Connect,
        ServerStage::Helo,
        ServerStage::Mail,
        ServerStage::Rcpt,
        ServerStage::Data,
        ServerStage::Dot,
    ];
}

/// An injected application fault at one stage of a session (each fires once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageFault {
    /// Answer with this reply instead of doing the stage's work (421 also closes).
    Reply(String),
    /// The same, at the `nth` command of that stage in the session only (e.g. the second RCPT).
    ReplyAt {
        /// Which command of the stage, from 1.
        nth: u32,
        /// The reply.
        text: String,
    },
    /// Do the work but delay the reply by this long.
    Delay(Time),
    /// At the final '.': queue the message, then crash before the 250.
    CrashAfterDot(Time),
}

impl ServerSession {
    /// Applies the injected faults for `stage`: every pending delay, then a pending reply.
    /// `Some(false)`: the fault answered instead of the stage (an error); `None`: carry on
    /// (maybe with a delay).
    pub(super) fn stage_fault(&mut self, now: Time, stage: ServerStage) -> Option<bool> {
        let seen = &mut self.stage_seen[stage as usize];
        *seen += 1;
        let seen = *seen;
        while let Some(i) = self
            .faults
            .iter()
            .position(|(s, f)| *s == stage && matches!(f, StageFault::Delay(_)))
        {
            if let (_, StageFault::Delay(d)) = self.faults.remove(i) {
                self.push(
                    now,
                    ServerEvent::Note(format!("fault: {stage:?} reply delayed by {}", Dur(d))),
                );
                self.extra_delay += d;
            }
        }
        let i = self.faults.iter().position(|(s, f)| {
            *s == stage
                && match f {
                    StageFault::Reply(_) => true,
                    StageFault::ReplyAt { nth, .. } => *nth == seen,
                    _ => false,
                }
        })?;
        let (StageFault::Reply(text) | StageFault::ReplyAt { text, .. }) = self.faults.remove(i).1
        else {
            unreachable!("matched above")
        };
        self.push(
            now,
            ServerEvent::Note(format!("fault: answering {stage:?} with {text:?}")),
        );
        let closes = text.starts_with("421");
        self.reply(now, &text, &[]);
        if closes {
            self.close(now);
        }
        Some(false)
    }
}
