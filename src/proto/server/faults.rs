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

/// An injected application fault at one stage of a session (each fires once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageFault {
    /// Answer with this reply instead of doing the stage's work (421 also closes).
    Reply(String),
    /// Do the work but delay the reply by this long.
    Delay(Time),
    /// At the final '.': queue the message, then crash before the 250.
    CrashAfterDot(Time),
}

impl ServerSession {
    /// Applies an injected fault for `stage`, if one is pending. `Some(false)`: the fault
    /// answered instead of the stage (an error); `None`: carry on (maybe with a delay).
    pub(super) fn stage_fault(&mut self, now: Time, stage: ServerStage) -> Option<bool> {
        let i = self
            .faults
            .iter()
            .position(|(s, f)| *s == stage && !matches!(f, StageFault::CrashAfterDot(_)))?;
        let (_, fault) = self.faults.remove(i);
        match fault {
            StageFault::Reply(text) => {
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
            StageFault::Delay(d) => {
                self.push(
                    now,
                    ServerEvent::Note(format!("fault: {stage:?} reply delayed by {}", Dur(d))),
                );
                self.extra_delay += d;
                None
            }
            StageFault::CrashAfterDot(_) => None,
        }
    }
}
