//! `serve --record FILE`: writes what each client sent, with its timing, as a scenario whose
//! `script` client replays it, so a session with a real (even closed-source) client becomes a
//! deterministic simulation that can be swept with faults.
//!
//! Each write is stored with the number of replies the client had received before it and the
//! pause since the last of them: the replay keeps the client's causality and its pauses.
//! What arrives in reads less than [`JITTER`] apart with no reply between them is one step
//! (pipelined commands sent as separate writes stay one group; a `.` written after a pause
//! stays its own step), and a pause shorter than [`JITTER`] is loopback jitter, recorded as
//! none, unless the recording is asked to keep exact delays.

use crate::fault::{FaultEvent, FaultPlan};
use crate::profile::Dur;
use crate::scenario::StepSpec;
use crate::transcript::{Event, EventKind};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Reads closer together than this, with no reply between them, are one write of the
/// client's; a pause shorter than this is not recorded (without `exact`).
pub const JITTER: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct Session {
    peer: String,
    steps: Vec<StepSpec>,
    replies: u32,
    last_reply_at: Duration,
    /// When the last read came, and the replies before it.
    last_read: Option<(Duration, u32)>,
}

impl Session {
    /// A read of the client's bytes at `at`: a step of its own, or the end of the last one.
    fn read(&mut self, at: Duration, bytes: &[u8], exact: bool) {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let same_write = self
            .last_read
            .is_some_and(|(t, replies)| replies == self.replies && at.saturating_sub(t) < JITTER);
        self.last_read = Some((at, self.replies));
        match self.steps.last_mut() {
            Some(step) if same_write && !exact => step.send.push_str(&text),
            _ => {
                let pause = at.saturating_sub(self.last_reply_at);
                let pause = if pause < JITTER && !exact {
                    Duration::ZERO
                } else {
                    pause
                };
                self.steps.push(StepSpec {
                    after_replies: self.replies,
                    delay: Dur(pause),
                    send: text,
                });
            }
        }
    }
}

/// Collects sessions from transcript events and writes each as a scenario file when it ends.
#[derive(Debug)]
pub struct Recorder {
    file: PathBuf,
    server_profile: String,
    server_overrides: toml::Table,
    /// What serve did to its sessions: each recording keeps its own session's share.
    faults: FaultPlan,
    sessions: BTreeMap<u32, Session>,
    written: u32,
    exact: bool,
}

#[derive(Serialize)]
struct ScenarioOut<'a> {
    name: String,
    about: String,
    seeds: [u64; 1],
    client: ClientOut<'a>,
    server: toml::Table,
    #[serde(skip_serializing_if = "Option::is_none")]
    faults: Option<FaultsOut>,
}

/// The faults serve applied to the recorded session, as a `[faults]` section replaying them.
#[derive(Serialize)]
struct FaultsOut {
    profile: &'static str,
    event: Vec<FaultEvent>,
}

#[derive(Serialize)]
struct ClientOut<'a> {
    profile: &'static str,
    step: &'a [StepSpec],
}

impl Recorder {
    /// Records into `file` (the first session), `file-2.toml`, ... for later ones; `exact`:
    /// every read its own step and every pause as measured, jitter included.
    pub fn new(
        file: &Path,
        server_profile: &str,
        server_overrides: toml::Table,
        faults: FaultPlan,
        exact: bool,
    ) -> Recorder {
        Recorder {
            file: file.to_path_buf(),
            server_profile: server_profile.to_string(),
            server_overrides,
            faults,
            sessions: BTreeMap::new(),
            written: 0,
            exact,
        }
    }

    /// Feeds one transcript event.
    pub fn observe(&mut self, e: &Event) {
        match &e.kind {
            EventKind::Connect if e.to == "server" => {
                self.sessions.insert(
                    e.conn,
                    Session {
                        peer: e.from.clone(),
                        last_reply_at: e.at,
                        ..Default::default()
                    },
                );
            }
            EventKind::Received(bytes) if e.to == "server" => {
                let exact = self.exact;
                if let Some(s) = self.sessions.get_mut(&e.conn) {
                    s.read(e.at, bytes, exact);
                }
            }
            EventKind::Data(bytes) if e.from == "server" => {
                if let Some(s) = self.sessions.get_mut(&e.conn) {
                    let finished = String::from_utf8_lossy(bytes)
                        .split("\r\n")
                        .filter(|l| {
                            l.len() >= 3
                                && l.as_bytes()[..3].iter().all(u8::is_ascii_digit)
                                && l.as_bytes().get(3) != Some(&b'-')
                        })
                        .count() as u32;
                    if finished > 0 {
                        s.replies += finished;
                        s.last_reply_at = e.at;
                    }
                }
            }
            EventKind::Close if e.from == "server" => self.finish(e.conn),
            _ => {}
        }
    }

    /// Writes every session still open (at shutdown).
    pub fn flush(&mut self) {
        let open: Vec<u32> = self.sessions.keys().copied().collect();
        for conn in open {
            self.finish(conn);
        }
    }

    fn finish(&mut self, conn: u32) {
        let Some(session) = self.sessions.remove(&conn) else {
            return;
        };
        if session.steps.is_empty() {
            return;
        }
        self.written += 1;
        let path = match self.written {
            1 => self.file.clone(),
            n => {
                let stem = self
                    .file
                    .file_stem()
                    .map_or("recorded".into(), |s| s.to_string_lossy().into_owned());
                self.file.with_file_name(format!("{stem}-{n}.toml"))
            }
        };
        let mut server = toml::Table::new();
        server.insert(
            "profile".into(),
            toml::Value::String(self.server_profile.clone()),
        );
        server.extend(self.server_overrides.clone());
        let name = path
            .file_stem()
            .map_or("recorded".into(), |s| s.to_string_lossy().into_owned());
        let out = ScenarioOut {
            name,
            about: format!("recorded by smtpsim serve: what the {} sent on connection c{conn}, replayed by the script client", session.peer),
            seeds: [0],
            client: ClientOut { profile: "script", step: &session.steps },
            server,
            faults: Some(FaultEvent::for_server_session(&self.faults, conn))
                .filter(|events| !events.is_empty())
                .map(|event| FaultsOut { profile: "none", event }),
        };
        let text = match toml::to_string(&out) {
            Ok(t) => t,
            Err(e) => format!("# cannot write the recording: {e}\n"),
        };
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("smtpsim: cannot write {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::default()
    }

    #[test]
    fn pipelined_reads_are_one_step_and_a_dot_after_a_pause_its_own() {
        let ms = Duration::from_millis;
        let mut s = session();
        s.replies = 2;
        s.last_reply_at = ms(100);
        for (at, text) in [
            (101, "MAIL FROM:<a@b>\r\n"),
            (102, "RCPT TO:<c@d>\r\n"),
            (103, "DATA\r\n"),
        ] {
            s.read(ms(at), text.as_bytes(), false);
        }
        s.replies = 5;
        s.last_reply_at = ms(110);
        s.read(ms(111), b"hello\r\n", false);
        s.read(ms(1112), b".\r\n", false);
        let steps: Vec<(u32, Duration, &str)> = s
            .steps
            .iter()
            .map(|st| (st.after_replies, st.delay.0, st.send.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                (
                    2,
                    Duration::ZERO,
                    "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
                ),
                (5, Duration::ZERO, "hello\r\n"),
                (5, ms(1002), ".\r\n"),
            ]
        );
    }

    #[test]
    fn exact_keeps_every_read_and_its_jitter() {
        let ms = Duration::from_millis;
        let mut s = session();
        s.read(ms(1), b"EHLO x\r\n", true);
        s.read(ms(2), b"QUIT\r\n", true);
        let delays: Vec<Duration> = s.steps.iter().map(|st| st.delay.0).collect();
        assert_eq!(delays, [ms(1), ms(2)]);
    }
}
