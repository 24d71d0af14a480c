//! The interceptor's rules on commands and replies: the verbs it blocks, and the length and
//! count limits past which it drops the connection (Cisco ASA `inspect esmtp`, Stormshield).

use super::InterceptorConfig;
use crate::proto::command::{Command, Verb};
use crate::proto::reply::Reply;

/// What becomes of a client command under the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ruling {
    /// Relayed as usual.
    Pass,
    /// Not relayed: the client gets this reply from the interceptor.
    Refuse(Reply),
    /// Both connections dropped, for this reason.
    Drop(String),
}

/// What the count limits need to remember of the current transaction.
#[derive(Debug, Default)]
pub(super) struct Counts {
    rcpts: u32,
}

/// The ruling on one client command line (`bytes` without its line ending).
pub(super) fn command(
    cfg: &InterceptorConfig,
    counts: &mut Counts,
    bytes: &[u8],
    command: Option<&Command>,
) -> Ruling {
    let max = cfg.max_command_line;
    if max > 0 && bytes.len() as u64 > max {
        return Ruling::Drop(format!(
            "a command line of {} bytes, over the limit of {max}",
            bytes.len()
        ));
    }
    let Some(command) = command else {
        return Ruling::Pass;
    };
    let verb = &command.verb;
    if cfg
        .blocked_commands
        .iter()
        .any(|b| b.eq_ignore_ascii_case(verb.name()))
    {
        return match Reply::from_template(&cfg.blocked_reply) {
            Some(reply) => Ruling::Refuse(reply),
            None => Ruling::Drop(format!("{} is blocked", verb.name())),
        };
    }
    match verb {
        Verb::Mail => {
            counts.rcpts = 0;
            let sender = command.path().map(|p| p.address.len()).unwrap_or(0) as u64;
            if cfg.max_sender > 0 && sender > cfg.max_sender {
                return Ruling::Drop(format!(
                    "a sender address of {sender} bytes, over the limit of {}",
                    cfg.max_sender
                ));
            }
        }
        Verb::Rset | Verb::Helo | Verb::Ehlo => counts.rcpts = 0,
        Verb::Rcpt => {
            counts.rcpts += 1;
            if cfg.max_rcpt > 0 && counts.rcpts > cfg.max_rcpt {
                return Ruling::Drop(format!(
                    "RCPT number {} in one transaction, over the limit of {}",
                    counts.rcpts, cfg.max_rcpt
                ));
            }
        }
        _ => {}
    }
    Ruling::Pass
}

/// Why a server reply breaks the reply-line limit, if it does.
pub(super) fn reply(cfg: &InterceptorConfig, reply: &Reply) -> Option<String> {
    let max = cfg.max_reply_line;
    // On the wire a line is the code, a separator and the text.
    let longest = reply.lines.iter().map(|l| l.len() as u64 + 4).max()?;
    (max > 0 && longest > max)
        .then(|| format!("a server reply line of {longest} bytes, over the limit of {max}"))
}
