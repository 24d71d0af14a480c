//! What a config may not be, checked where a scenario or `--set` builds one: a reply template
//! that is not a reply (of the class its place needs, for an interceptor's), or an interceptor
//! knob set explicitly that has no effect given the others. The error says what the knob needs.

use crate::proto::interceptor::{InterceptorConfig, StartTls};
use crate::proto::reply::Reply;
use crate::proto::server::ServerConfig;

/// The reply templates of an interceptor, with the classes their place allows and an example.
const TEMPLATES: &[(&str, &[u8], &str)] = &[
    ("data_reply", &[3], "354 Please start mail input."),
    ("ack_dot", &[2, 4, 5], "250 OK"),
    ("rewritten_reply", &[2, 4, 5], "250 OK"),
    (
        "buffer_overflow_reply",
        &[4, 5],
        "552 5.3.4 Message too big",
    ),
    (
        "upstream_failure_reply",
        &[4, 5],
        "421 4.3.2 Service not available",
    ),
    ("starttls_refusal", &[4, 5], "454 4.7.0 TLS not available"),
    ("quit_reply", &[2], "221 Closing connection. Good bye."),
    ("blocked_reply", &[4, 5], "502 5.5.1 Command not allowed"),
    // 2xx: the message is dropped while the sender is told it went (clamsmtp's Action drop).
    ("detection_reply", &[2, 4, 5], "554 5.7.1 Virus found"),
    (
        "upstream_lost_reply",
        &[4, 5],
        "451 4.4.2 Lost connection to the server",
    ),
];

fn template<'a>(cfg: &'a InterceptorConfig, knob: &str) -> &'a str {
    match knob {
        "data_reply" => &cfg.data_reply,
        "ack_dot" => &cfg.ack_dot,
        "rewritten_reply" => &cfg.rewritten_reply,
        "buffer_overflow_reply" => &cfg.buffer_overflow_reply,
        "upstream_failure_reply" => &cfg.upstream_failure_reply,
        "quit_reply" => &cfg.quit_reply,
        "blocked_reply" => &cfg.blocked_reply,
        "detection_reply" => &cfg.detection_reply,
        "upstream_lost_reply" => &cfg.upstream_lost_reply,
        _ => &cfg.starttls_refusal,
    }
}

/// Why `text` is not a reply of one of `classes`, if it is not.
fn template_problem(text: &str, classes: &[u8]) -> Option<String> {
    let first = text.split('\n').next().unwrap_or("");
    let code = first
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
    let Some(code) = code else {
        return Some("a reply starts with a three-digit code".into());
    };
    if !matches!(first.as_bytes().get(3), None | Some(b' ') | Some(b'-')) {
        return Some(format!(
            "the code {code} must be followed by a space and the text"
        ));
    }
    let class = code.as_bytes()[0] - b'0';
    if !classes.contains(&class) {
        let wanted: Vec<String> = classes.iter().map(|c| format!("{c}xx")).collect();
        return Some(format!(
            "here a reply is {}, not {class}xx",
            wanted.join(" or ")
        ));
    }
    if code.as_bytes()[1] > b'5' {
        return Some(format!("{code} is not a reply code (second digit 0-5)"));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Some("the text has a control character (lines are separated by \\n)".into());
    }
    if Reply::from_template(text).is_none() {
        return Some("it does not parse as a reply".into());
    }
    None
}

/// Knobs that only act on a message the interceptor holds (`data_reply` set).
const HOLDING: &[&str] = &[
    "ack_dot",
    "release_on",
    "scan_delay",
    "keepalive_command",
    "keepalive_interval",
    "upstream_resets",
    "reset_interval",
    "replay_envelope",
    "buffer_limit",
    "buffer_overflow_reply",
];

/// What a knob set in `set` needs and `cfg` does not have, if anything.
fn no_effect(cfg: &InterceptorConfig, knob: &str) -> Option<&'static str> {
    if HOLDING.contains(&knob) && cfg.data_reply.is_empty() {
        return Some(
            "it acts only on a message the interceptor holds: set data_reply \
             (e.g. data_reply = \"354 Please start mail input.\")",
        );
    }
    match knob {
        "keepalive_interval" if cfg.keepalive_command.is_empty() => {
            Some("it is the time between keepalive commands: set keepalive_command (e.g. \"NOOP\")")
        }
        "reset_interval" if cfg.upstream_resets < 2 => {
            Some("it is the time between upstream RSETs: set upstream_resets to 2 or more")
        }
        "buffer_overflow_reply" if cfg.buffer_limit == 0 => {
            Some("it answers a message over buffer_limit: set buffer_limit (bytes)")
        }
        "rewritten_reply" if cfg.allowed_commands.is_empty() => Some(
            "it answers commands turned into NOOP: set allowed_commands \
             (e.g. [\"HELO\", \"MAIL\", \"RCPT\", \"DATA\", \"RSET\", \"NOOP\", \"QUIT\"])",
        ),
        "starttls_refusal" if cfg.starttls != StartTls::Refuse => {
            Some("it answers STARTTLS only under starttls = \"refuse\"")
        }
        "blocked_reply" if cfg.blocked_commands.is_empty() => {
            Some("it answers the verbs in blocked_commands: set blocked_commands (e.g. [\"BDAT\"])")
        }
        "strip_ehlo_keywords" if cfg.ehlo_as_helo => Some(
            "under ehlo_as_helo the server answers a HELO, whose reply has no keywords to strip",
        ),
        "detection_reply" if cfg.block_signature.is_empty() => Some(
            "it answers a message with block_signature in it: set block_signature \
             (e.g. \"EICAR-STANDARD-ANTIVIRUS-TEST-FILE\")",
        ),
        _ => None,
    }
}

/// Checks `cfg`, whose knobs `set` were set explicitly (a scenario section, `--set`). The error
/// names the knob at fault and says why.
pub fn check_interceptor(
    cfg: &InterceptorConfig,
    set: &[&str],
) -> Result<(), (&'static str, String)> {
    for (knob, classes, example) in TEMPLATES {
        let text = template(cfg, knob);
        if text.is_empty() {
            continue;
        }
        if let Some(problem) = template_problem(text, classes) {
            return Err((
                knob,
                format!("{knob} = {text:?} is not a valid reply: {problem} (e.g. {example:?})"),
            ));
        }
    }
    for knob in set {
        if let Some(needs) = no_effect(cfg, knob) {
            let knob = HOLDING
                .iter()
                .chain(TEMPLATES.iter().map(|t| &t.0))
                .chain(&[
                    "keepalive_interval",
                    "reset_interval",
                    "strip_ehlo_keywords",
                ])
                .find(|k| *k == knob)
                .copied()
                .unwrap_or("interceptor");
            return Err((knob, format!("{knob} has no effect here: {needs}")));
        }
    }
    Ok(())
}

/// Checks the server's reply templates (`reply_*`) set explicitly in `set`: each must be a
/// reply (a code of class 2 to 5, a space, the text; `{host}`-style fields are filled in later).
pub fn check_server(cfg: &ServerConfig, set: &[&str]) -> Result<(), (String, String)> {
    let Ok(toml::Value::Table(values)) = toml::Value::try_from(cfg) else {
        return Ok(());
    };
    for knob in set.iter().filter(|k| k.starts_with("reply_")) {
        let Some(toml::Value::String(text)) = values.get(*knob) else {
            continue;
        };
        if let Some(problem) = template_problem(text, &[2, 3, 4, 5]) {
            return Err((
                knob.to_string(),
                format!(
                    "{knob} = {text:?} is not a valid reply: {problem} (e.g. \"250 2.0.0 Ok\")"
                ),
            ));
        }
    }
    Ok(())
}
