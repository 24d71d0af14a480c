//! The scenario file format (TOML, read with serde; unknown keys are errors) and its
//! resolution into concrete configs. Errors carry `file:line:col`.

use crate::fault::{FaultConfig, FaultEvent, FaultSection};
use crate::profile::{ClientConfig, Dur, InterceptorConfig, ServerConfig};
use crate::proto::client::Message;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// A message the client sends.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// Reverse-path (without angle brackets).
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Content; a bare `\n` is sent as CRLF.
    pub body: String,
    /// When the message is queued (default: at the start).
    #[serde(default)]
    pub at: Option<Dur>,
}

/// One recorded client write (the `script` client profile).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Replies the client had received before this write.
    #[serde(default)]
    pub after_replies: u32,
    /// Pause after that reply (or after connecting).
    #[serde(default)]
    pub delay: Dur,
    /// The bytes written (escapes such as `\r\n` as in any TOML string).
    pub send: String,
}

/// Network settings of the simulation.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Smallest one-way latency.
    #[serde(default = "default_latency_min")]
    pub latency_min: Dur,
    /// Largest one-way latency.
    #[serde(default = "default_latency_max")]
    pub latency_max: Dur,
    /// TCP's retransmission timeout: a segment not acknowledged within it is sent again.
    #[serde(default = "default_rto")]
    pub rto: Dur,
    /// Retransmissions in a row before TCP gives up and resets the connection; the give-up
    /// time is `rto` × (`tcp_retries` + 1).
    #[serde(default = "default_tcp_retries")]
    pub tcp_retries: u32,
    /// Longest a run may take in virtual time.
    #[serde(default = "default_limit")]
    pub time_limit: Dur,
    /// After the client is done, how long to wait for the other sessions to end.
    #[serde(default = "default_drain")]
    pub drain: Dur,
}

fn default_drain() -> Dur {
    Dur::secs(60)
}

fn default_latency_min() -> Dur {
    Dur::millis(1)
}
fn default_latency_max() -> Dur {
    Dur::millis(20)
}
/// Linux's minimum retransmission timeout (`TCP_RTO_MIN`).
fn default_rto() -> Dur {
    Dur::millis(200)
}
/// 100 retransmissions at 200 ms: a peer silent for 20 s resets the connection.
fn default_tcp_retries() -> u32 {
    99
}
fn default_limit() -> Dur {
    Dur::secs(7200)
}

impl Default for NetworkSection {
    fn default() -> Self {
        NetworkSection {
            latency_min: default_latency_min(),
            latency_max: default_latency_max(),
            rto: default_rto(),
            tcp_retries: default_tcp_retries(),
            time_limit: default_limit(),
            drain: default_drain(),
        }
    }
}

server_config_fields! {
    section {
        /// The `[server]` table: a server preset and any of its knobs.
        pub struct ServerSection
        extra {
            /// A Postfix `main.cf` (or `postconf -n` output) configuring the postfix
            /// profile, relative to the scenario file; the knobs here apply over it.
            pub postconf: Option<String>,
            /// Parameters of `postconf` that are not modelled are an error, not a note.
            pub strict: bool,
        }
    }
}

client_config_fields! {
    section {
        /// The `[client]` table: a client preset, any of its knobs, and the messages.
        pub struct ClientSection
        extra {
            /// The messages to send, in queue order.
            pub message: Vec<MessageSpec>,
            /// For the `script` profile: the recorded writes to replay.
            pub step: Vec<StepSpec>,
        }
    }
}

interceptor_config_fields! {
    section {
        /// The `[interceptor]` table: an interceptor preset and any of its knobs.
        pub struct InterceptorSection
        extra {}
    }
}

/// A scenario file as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Short name (used in snapshots and reports). Required, but for one side alone
    /// ([`Scenario::load_side`]: the file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// One sentence: what this scenario shows.
    #[serde(default)]
    pub about: String,
    /// Seeds it is pinned to (tests run each).
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Invariants this scenario is expected to break at its pinned seeds (a bug catalogue
    /// entry); empty: every invariant must hold.
    #[serde(default)]
    pub expect_violations: Vec<String>,
    /// The sending side. Required, but for one side alone ([`Scenario::load_side`]).
    #[serde(default)]
    pub client: Option<ClientSection>,
    /// An optional middlebox.
    #[serde(default)]
    pub interceptor: Option<InterceptorSection>,
    /// The receiving side (the `postfix` preset when left out).
    #[serde(default)]
    pub server: ServerSection,
    /// Network timing.
    #[serde(default)]
    pub network: NetworkSection,
    /// Faults: a preset, knob overrides and explicit events.
    #[serde(default)]
    pub faults: Option<FaultSection>,
    /// DKIM: sign the client's messages and check the signature on the server's copies.
    #[serde(default)]
    pub dkim: Option<DkimSection>,
}

/// A scenario's `[dkim]` table: the client's messages are signed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSection {
    /// The signing domain (`d=`), usually the sender's.
    pub domain: String,
    /// The selector (`s=`): the key's record is `SELECTOR._domainkey.DOMAIN`.
    #[serde(default = "default_selector")]
    pub selector: String,
}

fn default_selector() -> String {
    "sim".into()
}

/// A scenario resolved to full configs, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// The TOML it was read from (the sweep's HTML report shows it).
    pub source: String,
    /// What it shows.
    pub about: String,
    /// Pinned seeds.
    pub seeds: Vec<u64>,
    /// Invariants expected to break at the pinned seeds.
    pub expect_violations: Vec<String>,
    /// Client preset name.
    pub client_profile: String,
    /// Client knobs.
    pub client: ClientConfig,
    /// Messages, in order.
    pub messages: Vec<Message>,
    /// For the `script` client: the writes to replay (empty otherwise).
    pub script: Vec<crate::proto::script::ScriptStep>,
    /// Interceptor preset name and knobs.
    pub interceptor: Option<(String, InterceptorConfig)>,
    /// Server preset name.
    pub server_profile: String,
    /// Server knobs.
    pub server: ServerConfig,
    /// Network timing.
    pub network: NetworkSection,
    /// Fault preset name.
    pub faults: String,
    /// The preset's knobs with the scenario's overrides.
    pub fault_config: FaultConfig,
    /// Explicit fault events from the scenario (used besides any drawn ones).
    pub fault_events: Vec<FaultEvent>,
    /// What `[server] postconf` did not model (for stderr).
    pub server_notes: Vec<String>,
    /// The scenario's own `[faults]` overrides, kept to re-apply over another preset.
    fault_section: FaultSection,
    /// The client's messages are signed with DKIM.
    pub dkim: Option<DkimSection>,
}

/// A scenario that could not be loaded: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or `<input>`).
    pub file: String,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

/// Where `key` is set in the `[section]` table of `text`, if it is.
fn key_span(text: &str, section: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let mut offset = text.find(&format!("[{section}]"))?;
    for (i, line) in text[offset..].split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if i > 0 && trimmed.starts_with('[') {
            return None;
        }
        if i > 0
            && trimmed
                .split_once('=')
                .is_some_and(|(k, _)| k.trim() == key)
        {
            let start = offset + line.len() - trimmed.len();
            return Some(start..start + key.len());
        }
        offset += line.len();
    }
    None
}

/// The knobs of a scenario section, by its header (`client`, `interceptor`, `server`, `faults`).
pub fn section_knobs(header: &str) -> Option<&'static [crate::knobs::Knob]> {
    match header {
        "client" => Some(ClientSection::KNOBS),
        "interceptor" => Some(InterceptorSection::KNOBS),
        "server" => Some(ServerSection::KNOBS),
        "faults" => Some(crate::fault::FaultSection::KNOBS),
        _ => None,
    }
}

/// How much of a scenario a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// A run: a name, the client and its messages.
    Whole,
    /// One side for `serve` or `proxy` (the real peers stand in for the rest): `name` and
    /// `[client]` may be left out.
    OneSide,
}

impl Scenario {
    /// Reads and resolves a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let (text, file) = Scenario::read(path)?;
        Scenario::parse_for(&text, &file, Needs::Whole)
    }

    /// Reads a scenario for one side of a live session (`serve --scenario`: its `[server]` and
    /// `[faults]`; `proxy --scenario`: its `[interceptor]`): `name` (the file's stem by default)
    /// and `[client]` may be left out, and a client without messages is no error.
    pub fn load_side(path: &Path) -> Result<Scenario, ScenarioError> {
        let (text, file) = Scenario::read(path)?;
        Scenario::parse_for(&text, &file, Needs::OneSide)
    }

    /// A scenario file's text (or a built-in sim's of that name) and its name for errors.
    fn read(path: &Path) -> Result<(String, String), ScenarioError> {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            // No such file, but a built-in sim of that name: `smtpsim run symantec-rset`.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match crate::catalogue::find(&file) {
                    Some((_, text)) => text.to_string(),
                    None => {
                        return Err(ScenarioError {
                            file,
                            position: None,
                            message: "no such file, and no built-in sim of that name (`smtpsim list` names them)".into(),
                        })
                    }
                }
            }
            Err(e) => {
                return Err(ScenarioError {
                    file,
                    position: None,
                    message: format!("cannot read: {e}"),
                })
            }
        };
        Ok((text, file))
    }

    /// Parses and resolves scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_for(text, file, Needs::Whole)
    }

    fn parse_for(text: &str, file: &str, needs: Needs) -> Result<Scenario, ScenarioError> {
        let at = |span: Option<std::ops::Range<usize>>, message: String| ScenarioError {
            file: file.to_string(),
            position: span.map(|s| line_col(text, s.start)),
            message,
        };
        let raw: ScenarioFile = toml::from_str(text).map_err(|e| {
            let named = e
                .span()
                .and_then(|span| crate::knobs::knob_at(text, span.start))
                .and_then(|(header, key)| {
                    let knobs = section_knobs(header.as_deref().unwrap_or(""))?;
                    crate::knobs::type_error(knobs, &key, e.message())
                });
            at(e.span(), named.unwrap_or_else(|| e.message().to_string()))
        })?;
        let whole = needs == Needs::Whole;
        let missing = |field: &str| at(Some(0..0), format!("missing field `{field}`"));
        let name = match raw.name.clone() {
            Some(name) => name,
            None if whole => return Err(missing("name")),
            None => Path::new(file)
                .file_stem()
                .map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned()),
        };
        let raw_client = match raw.client.clone() {
            Some(client) => client,
            None if whole => return Err(missing("client")),
            None => ClientSection::default(),
        };
        let preset = |section: Option<&toml::Spanned<String>>,
                      default: &str|
         -> (String, Option<std::ops::Range<usize>>) {
            match section {
                Some(s) => (s.get_ref().clone(), Some(s.span())),
                None => (default.to_string(), None),
            }
        };

        let (client_profile, span) = preset(raw_client.profile.as_ref(), "ssmtp");
        let mut client = ClientConfig::preset(&client_profile).map_err(|e| at(span.clone(), e))?;
        raw_client.apply(&mut client);
        let script: Vec<crate::proto::script::ScriptStep> = raw_client
            .step
            .iter()
            .map(|s| crate::proto::script::ScriptStep {
                after_replies: s.after_replies,
                delay: s.delay.0,
                bytes: s.send.clone().into_bytes(),
            })
            .collect();
        if client_profile == "script" {
            if script.is_empty() || !raw_client.message.is_empty() {
                return Err(at(
                    span.clone(),
                    "the script client needs [[client.step]] and no [[client.message]]".into(),
                ));
            }
        } else if !script.is_empty() {
            return Err(at(
                span,
                "[[client.step]] needs profile = \"script\"".into(),
            ));
        } else if raw_client.message.is_empty() && whole {
            return Err(at(
                None,
                "the client has no [[client.message]] to send".into(),
            ));
        }
        let messages = raw_client
            .message
            .iter()
            .enumerate()
            .map(|(id, m)| Message {
                id,
                from: m.from.clone(),
                to: m.to.clone(),
                body: m.body.clone().into_bytes(),
                at: m.at.unwrap_or_default().0,
            })
            .collect::<Vec<_>>();
        let messages = if script.is_empty() {
            messages
        } else {
            crate::proto::script::script_messages(&script)
        };
        if let Some(m) = messages
            .iter()
            .find(|m| m.to.is_empty() && script.is_empty())
        {
            return Err(at(None, format!("message {} has no recipients", m.id + 1)));
        }

        let interceptor = match &raw.interceptor {
            None => None,
            Some(section) => {
                let (name, span) = preset(section.profile.as_ref(), "passthrough");
                let mut cfg = InterceptorConfig::preset(&name).map_err(|e| at(span, e))?;
                section.apply(&mut cfg);
                crate::profile::rules::check_interceptor(&cfg, &section.set_knobs())
                    .map_err(|(knob, message)| at(key_span(text, "interceptor", knob), message))?;
                Some((name, cfg))
            }
        };

        let (server_profile, span) = preset(raw.server.profile.as_ref(), "postfix");
        let mut server = ServerConfig::preset(&server_profile).map_err(|e| at(span, e))?;
        let mut server_notes = Vec::new();
        if let Some(postconf) = &raw.server.postconf {
            let dir = Path::new(file).parent().unwrap_or(Path::new(""));
            let from =
                crate::profile::from_main_cf::load(&dir.join(postconf), server, raw.server.strict)
                    .map_err(|e| at(None, format!("server.postconf: {e}")))?;
            server_notes = from.notes();
            server = from.server;
        }
        raw.server.apply(&mut server);
        crate::profile::rules::check_server(&server, &raw.server.set_knobs())
            .map_err(|(knob, message)| at(key_span(text, "server", &knob), message))?;

        let fault_section = raw.faults.clone().unwrap_or_default();
        let (faults, span) = preset(fault_section.profile.as_ref(), "none");
        let mut fault_config = FaultConfig::preset(&faults).map_err(|e| at(span, e))?;
        fault_section.apply(&mut fault_config);
        if raw.network.latency_max < raw.network.latency_min {
            return Err(at(
                None,
                "network.latency_max is smaller than network.latency_min".into(),
            ));
        }
        if raw.network.rto.0 < Duration::from_millis(1) {
            return Err(at(None, "network.rto must be at least 1ms".into()));
        }
        Ok(Scenario {
            name,
            source: text.to_string(),
            about: raw.about,
            seeds: raw.seeds,
            expect_violations: raw.expect_violations,
            client_profile,
            client,
            messages,
            script,
            interceptor,
            server_profile,
            server,
            network: raw.network,
            faults,
            fault_config,
            fault_events: fault_section.event.clone(),
            fault_section,
            server_notes,
            dkim: raw.dkim,
        })
    }

    /// The same scenario under another fault preset (the scenario's own knob overrides and
    /// explicit events still apply).
    pub fn with_fault_profile(&self, name: &str) -> Result<Scenario, String> {
        let mut config = FaultConfig::preset(name)?;
        self.fault_section.apply(&mut config);
        Ok(Scenario {
            faults: name.to_string(),
            fault_config: config,
            ..self.clone()
        })
    }
}
