//! `serve --record FILE`: writes what each client sent, with its timing, as a scenario whose
//! `script` client replays it, so a session with a real (even closed-source) client becomes a
//! deterministic simulation that can be swept with faults.
//!
//! Each write is stored with the number of replies the client had received before it and the
//! pause since the last of them: the replay keeps the client's causality and its pauses.

use crate::profile::Dur;
use crate::scenario::StepSpec;
use crate::transcript::{Event, EventKind};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default)]
struct Session {
    peer: String,
    steps: Vec<StepSpec>,
    replies: u32,
    last_reply_at: Duration,
}

/// Collects sessions from transcript events and writes each as a scenario file when it ends.
#[derive(Debug)]
pub struct Recorder {
    file: PathBuf,
    server_profile: String,
    server_overrides: toml::Table,
    sessions: BTreeMap<u32, Session>,
    written: u32,
}

#[derive(Serialize)]
struct ScenarioOut<'a> {
    name: String,
    about: String,
    seeds: [u64; 1],
    client: ClientOut<'a>,
    server: toml::Table,
}

#[derive(Serialize)]
struct ClientOut<'a> {
    profile: &'static str,
    step: &'a [StepSpec],
}

impl Recorder {
    /// Records into `file` (the first session), `file-2.toml`, ... for later ones.
    pub fn new(file: &Path, server_profile: &str, server_overrides: toml::Table) -> Recorder {
        Recorder {
            file: file.to_path_buf(),
            server_profile: server_profile.to_string(),
            server_overrides,
            sessions: BTreeMap::new(),
            written: 0,
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
                if let Some(s) = self.sessions.get_mut(&e.conn) {
                    s.steps.push(StepSpec {
                        after_replies: s.replies,
                        delay: Dur(e.at.saturating_sub(s.last_reply_at)),
                        send: String::from_utf8_lossy(bytes).into_owned(),
                    });
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
