//! A generated server behaviour for `smtpsim diff --client`: what the server offers in EHLO,
//! how many recipients the message has, and an explicit fault plan (a reply of any class at
//! any stage, one RCPT of several refused, a reply delayed past the client's timeout, the
//! connection dropped at a stage, a crash after `.`). A behaviour is written as a scenario
//! file, so the simulation side runs it with `smtpsim run` and the live side replays it with
//! `smtpsim diff --client NAME --replay FILE`.

use crate::fault::{FaultEvent, ServerStage, Writer};
use crate::proto::dur::Dur;
use crate::seeds::{self, Stream};
use rand::seq::IndexedRandom;
use rand::Rng;
use std::time::Duration;

/// The envelope sender of every generated message.
pub const FROM: &str = "alice@example.org";
/// The recipients a message takes its 1 to 3 from.
pub const RECIPIENTS: [&str; 3] = ["bob@example.org", "carol@example.org", "dave@example.org"];
/// The message (LF line ends; each program gets it as it takes mail): it has a line that
/// starts with a dot, which must arrive stuffed.
pub const BODY: &str =
    "From: alice@example.org\nSubject: smtpsim client diff\n\nhello\n.a line that starts with a dot\nbye\n";
/// The server's name.
pub const HOSTNAME: &str = "mail.example.org";
/// The EHLO keywords a behaviour picks from (ENHANCEDSTATUSCODES and 8BITMIME always follow).
pub const OPTIONAL_KEYWORDS: [&str; 5] = [
    "PIPELINING",
    "SIZE {size_limit}",
    "STARTTLS",
    "DSN",
    "CHUNKING",
];
/// The server's reply to MAIL and to the final `.` waits this long, on both sides, so that
/// what a client sends without waiting (pipelined RCPTs, a QUIT after `.`) has arrived
/// before the reply goes out, and the server sees it as one group.
pub const PACING: Duration = Duration::from_millis(200);
/// How many server sessions get the pacing (attempts beyond it are not grouped reliably).
const PACED_SESSIONS: u32 = 3;

/// One generated behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    /// Its seed.
    pub seed: u64,
    /// EHLO keywords offered (before the fixed ones).
    pub keywords: Vec<String>,
    /// Recipients of the message (1 to 3).
    pub recipients: usize,
    /// The fault plan.
    pub events: Vec<FaultEvent>,
}

/// What the generator may draw for one program.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The program's command timeout as configured (None: not configurable, no delay past
    /// it is drawn).
    pub timeout: Option<Duration>,
}

impl Behaviour {
    /// The behaviour `seed` draws.
    pub fn generate(seed: u64, limits: Limits) -> Behaviour {
        let mut rng = seeds::rng(seed, Stream::ClientBehaviour);
        let keywords = OPTIONAL_KEYWORDS
            .iter()
            .filter(|_| rng.random_bool(0.5))
            .map(|k| k.to_string())
            .collect();
        let recipients = rng.random_range(1..=3);
        let mut events = Vec::new();
        // One fault in most behaviours, two in some, none in a few.
        let faults = *[0, 1, 1, 1, 1, 1, 1, 2]
            .choose(&mut rng)
            .expect("non-empty");
        for _ in 0..faults {
            events.push(fault(&mut rng, recipients, limits));
        }
        Behaviour {
            seed,
            keywords,
            recipients,
            events,
        }
    }

    /// The message's recipients.
    pub fn to(&self) -> Vec<String> {
        RECIPIENTS[..self.recipients]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Every EHLO keyword offered, in order.
    pub fn ehlo_keywords(&self) -> Vec<String> {
        let mut all = self.keywords.clone();
        all.extend(["ENHANCEDSTATUSCODES".to_string(), "8BITMIME".to_string()]);
        all
    }

    /// The fault plan both sides run: the behaviour's events, then the pacing delays.
    pub fn plan(&self) -> Vec<FaultEvent> {
        let mut all = self.events.clone();
        for connection in 1..=PACED_SESSIONS {
            for stage in [ServerStage::Mail, ServerStage::Dot] {
                all.push(FaultEvent::ServerDelay {
                    connection,
                    stage,
                    duration: Dur(PACING),
                });
            }
        }
        all
    }

    /// The behaviour as a scenario for `profile` with the client knobs `knobs` (TOML lines).
    pub fn scenario(&self, program: &str, profile: &str, knobs: &[(&str, String)]) -> String {
        let mut out = format!(
            "# smtpsim diff --client {program}: behaviour {seed}\n\
             # live: smtpsim diff --client {program} --replay THIS_FILE\n\
             # simulation: smtpsim run THIS_FILE\n\
             name = \"client-diff-{program}-{seed}\"\n\
             about = \"behaviour {seed} of smtpsim diff --client {program}\"\n\
             seeds = [{seed}]\n\n[client]\nprofile = {profile:?}\n",
            seed = self.seed
        );
        for (knob, value) in knobs {
            out.push_str(&format!("{knob} = {value}\n"));
        }
        out.push_str(&self.message_toml(BODY));
        out.push_str(&self.server_toml());
        out
    }

    /// The `[[client.message]]` section: the message with `body`.
    pub fn message_toml(&self, body: &str) -> String {
        format!(
            "\n[[client.message]]\nfrom = {FROM:?}\nto = {:?}\nbody = {body:?}\n",
            self.to()
        )
    }

    /// The `[server]` section and the fault plan.
    pub fn server_toml(&self) -> String {
        self.server_toml_with(&self.ehlo_keywords())
    }

    /// The `[server]` section offering `keywords` in EHLO, and the fault plan.
    pub fn server_toml_with(&self, keywords: &[String]) -> String {
        let mut out = format!(
            "\n[server]\nprofile = \"postfix\"\nhostname = {HOSTNAME:?}\nlocal_domains = [\"example.org\"]\nehlo_keywords = {keywords:?}\n"
        );
        let plan = crate::fault::FaultPlan {
            events: self.plan(),
        };
        let mut faults = crate::fault::FaultConfig::preset("none").expect("preset none");
        // Transport faults apply to connections opened before the heal: all of them.
        faults.window = Dur::secs(30 * 24 * 3600);
        out.push('\n');
        out.push_str(&plan.to_toml(&faults));
        out
    }
}

impl crate::diff::runner::Generated for Behaviour {
    fn seed(&self) -> u64 {
        self.seed
    }

    /// Smaller behaviours than this one, one change each (for shrinking): one fault event
    /// left out, a multi-line reply as its last line, one keyword left out, one recipient
    /// fewer (when no event names it).
    fn smaller(&self) -> Vec<Behaviour> {
        let mut out = Vec::new();
        for i in 0..self.events.len() {
            let mut b = self.clone();
            b.events.remove(i);
            out.push(b);
        }
        for (i, e) in self.events.iter().enumerate() {
            if let FaultEvent::ServerReply { reply, .. } = e {
                if let Some((_, last)) = reply.rsplit_once('\n') {
                    let mut b = self.clone();
                    if let FaultEvent::ServerReply { reply, .. } = &mut b.events[i] {
                        *reply = last.to_string();
                    }
                    out.push(b);
                }
            }
        }
        for i in 0..self.keywords.len() {
            let mut b = self.clone();
            b.keywords.remove(i);
            out.push(b);
        }
        let highest_rcpt = self
            .events
            .iter()
            .filter_map(|e| match e {
                FaultEvent::ServerReply { nth, .. } => *nth,
                _ => None,
            })
            .max()
            .unwrap_or(1) as usize;
        if self.recipients > highest_rcpt.max(1) {
            let mut b = self.clone();
            b.recipients -= 1;
            out.push(b);
        }
        out
    }

    /// A short description, e.g. `EHLO offers PIPELINING,DSN · 2 recipients · server session 1 answers Rcpt #2 with "550 ..."`.
    fn describe(&self) -> String {
        let mut parts = vec![
            format!(
                "EHLO offers {}",
                if self.keywords.is_empty() {
                    "nothing optional".to_string()
                } else {
                    self.keywords.join(",").replace(" {size_limit}", "")
                }
            ),
            format!("{} recipient(s)", self.recipients),
        ];
        if self.events.is_empty() {
            parts.push("no faults".into());
        }
        parts.extend(self.events.iter().map(|e| e.to_string()));
        parts.join(" · ")
    }
}

/// Draws one fault event.
fn fault(rng: &mut impl Rng, recipients: usize, limits: Limits) -> FaultEvent {
    let stage = *ServerStage::ALL.choose(rng).expect("non-empty");
    let kind = rng.random_range(0..100);
    match kind {
        // A reply of any class.
        0..=69 => {
            let (reply, nth) = reply_at(rng, stage, recipients);
            FaultEvent::ServerReply {
                connection: 1,
                stage,
                reply,
                nth,
            }
        }
        70..=79 if limits.timeout.is_some() => FaultEvent::ServerDelay {
            connection: 1,
            stage,
            duration: Dur(limits.timeout.expect("checked") + Duration::from_secs(3)),
        },
        80..=91 => FaultEvent::DropAtLine {
            writer: Writer::Server,
            connection: 1,
            line: drop_line(stage).into(),
        },
        _ => FaultEvent::ServerCrashAfterDot {
            connection: 1,
            restart_after: Dur::secs(1),
        },
    }
}

/// A reply for `stage` (and, at RCPT, which RCPT it answers).
fn reply_at(rng: &mut impl Rng, stage: ServerStage, recipients: usize) -> (String, Option<u32>) {
    let (code, enhanced, text) = *[
        (421, "4.3.2", "Service shutting down"),
        (450, "4.2.0", "Mailbox temporarily unavailable"),
        (451, "4.3.0", "Local error in processing"),
        (452, "4.3.1", "Insufficient system storage"),
        (550, "5.1.1", "Mailbox unavailable"),
        (554, "5.7.1", "Rejected by policy"),
    ]
    .choose(rng)
    .expect("non-empty");
    let mut reply = if rng.random_bool(0.25) {
        format!("{code}-{enhanced} {text}\n{code} {enhanced} Please try again later")
    } else {
        format!("{code} {enhanced} {text}")
    };
    if stage == ServerStage::Connect {
        // No enhanced code before EHLO.
        reply = reply.replace(&format!("{enhanced} "), "");
    }
    let nth = (stage == ServerStage::Rcpt && recipients > 1)
        .then(|| rng.random_range(1..=recipients as u32));
    (reply, nth)
}

/// The start of the server's line at `stage` that a drop cuts before.
fn drop_line(stage: ServerStage) -> &'static str {
    match stage {
        ServerStage::Connect => "220 ",
        ServerStage::Helo => "250",
        ServerStage::Mail => "250 2.1.0",
        ServerStage::Rcpt => "250 2.1.5",
        ServerStage::Data => "354",
        ServerStage::Dot => "250 2.0.0",
    }
}
