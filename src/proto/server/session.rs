//! One command line read and dispatched: syntax, error and junk-command limits, non-SMTP
//! input, and the command table.

use super::*;

impl ServerSession {
    pub(super) fn handle_line(&mut self, now: Time, line: crate::proto::line::Line) {
        if let State::Data(data) = &mut self.state {
            let event = data.handle_line(&line);
            if event == DataEvent::Content {
                let whole = line.ending != Ending::Cut;
                if let Some(message_id) = self.log.content_line(&line.bytes, whole) {
                    let queue_id = self.txn.as_ref().and_then(|t| t.queue_id.clone());
                    self.log_message_id(now, queue_id, message_id);
                }
            }
            if let DataEvent::End(end) = event {
                if end.is_nonstandard() {
                    let note = format!(
                        "end of data by a non-standard sequence ({:?} then \".\" {:?})",
                        end.before, end.after
                    );
                    self.push(now, ServerEvent::Note(note));
                }
                let State::Data(data) = std::mem::replace(&mut self.state, State::Command) else {
                    unreachable!()
                };
                self.lines.set_limits(self.command_limits());
                self.end_of_data(now, data);
            }
            return;
        }
        self.log_command_line(now, &line);
        if line.ending == Ending::Cut && self.cfg.reject_long_lines {
            let text = self.cfg.reply_line_too_long.clone();
            self.reply(now, &text, &[]);
            self.error_count += 1;
            self.check_error_limit(now);
            return;
        }
        // Postfix reads a command as a C string: a NUL ends it.
        let bytes = match line.bytes.iter().position(|&b| b == 0) {
            Some(nul) if self.cfg.postfix_envelope => &line.bytes[..nul],
            _ => &line.bytes[..],
        };
        let Some(command) = Command::parse(bytes) else {
            let text = self.cfg.reply_bad_syntax.clone();
            self.reply(now, &text, &[]);
            self.error_count += 1;
            self.check_error_limit(now);
            return;
        };
        // The rest of a line cut at the limit is skipped, not pending (Postfix's smtp_get).
        let pending = match line.ending {
            Ending::Cut => {
                let rest = self.lines.pending();
                rest.iter()
                    .position(|&b| b == b'\n')
                    .map_or(Vec::new(), |i| rest[i + 1..].to_vec())
            }
            _ => self.lines.pending().to_vec(),
        };
        let (counted, improper) = self.log.command(command.verb.name(), &pending);
        if let Some(record) = improper {
            self.push(now, ServerEvent::Log(record));
        }
        if self.cfg.hang_up_on_non_smtp && is_non_smtp(&command) {
            let text = self.cfg.reply_break_rules.clone();
            let escaped = maillog::escape(&line.bytes);
            let shown = escaped.chars().take(100).collect();
            self.push(now, ServerEvent::Log(LogRecord::NonSmtp(shown)));
            self.push(
                now,
                ServerEvent::Note(format!(
                    "non-SMTP command: {}",
                    String::from_utf8_lossy(&line.bytes)
                )),
            );
            self.reply(now, &text, &[]);
            self.close(now);
            return;
        }
        if command.verb == Verb::Bdat
            && command.bdat().is_none()
            && !self.cfg.reply_bdat_ok.is_empty()
        {
            let line = maillog::printable(bytes).chars().take(100).collect();
            self.log_bdat_warning(now, BdatWarning::Malformed(line));
        }
        let ok = self.dispatch(now, &command);
        self.log.result(counted, ok);
        if !ok {
            self.error_count += 1;
        }
        let junk = matches!(
            command.verb,
            Verb::Helo | Verb::Ehlo | Verb::Noop | Verb::Vrfy | Verb::Etrn | Verb::Rset
        );
        if junk && self.cfg.junk_command_limit > 0 {
            if self.junk_cmds > self.cfg.junk_command_limit {
                self.error_count += 1;
            }
            self.junk_cmds += 1;
        }
        self.check_error_limit(now);
    }

    pub(super) fn check_error_limit(&mut self, now: Time) {
        if self.is_closed()
            || self.cfg.hard_error_limit == 0
            || self.error_count < self.cfg.hard_error_limit
        {
            return;
        }
        let text = self.cfg.reply_too_many_errors.clone();
        self.push(
            now,
            ServerEvent::Note(format!("too many errors ({})", self.error_count)),
        );
        self.reply(now, &text, &[]);
        self.log_end(now, Some(maillog::TOO_MANY_ERRORS), 0);
        self.close(now);
    }

    /// Runs one command; false if it counts as an error.
    pub(super) fn dispatch(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let stage = match command.verb {
            Verb::Helo | Verb::Ehlo => Some(ServerStage::Helo),
            Verb::Mail => Some(ServerStage::Mail),
            Verb::Rcpt => Some(ServerStage::Rcpt),
            Verb::Data => Some(ServerStage::Data),
            _ => None,
        };
        if let Some(result) = stage.and_then(|stage| self.stage_fault(now, stage)) {
            return result;
        }
        match &command.verb {
            Verb::Helo | Verb::Ehlo => {
                let name = command.args.split_whitespace().next();
                if name.is_none() && cfg.helo_requires_name {
                    let text = if command.verb == Verb::Helo {
                        &cfg.reply_helo_syntax
                    } else {
                        &cfg.reply_ehlo_syntax
                    };
                    self.reply(now, text, &[]);
                    return false;
                }
                self.helo = Some(name.unwrap_or("").to_string());
                self.reset_transaction(now);
                if command.verb == Verb::Ehlo {
                    let size = cfg.message_size_limit.to_string();
                    let mut text = cfg.reply_helo.clone();
                    let offer_tls = self.tls == Tls::Plain;
                    for keyword in &cfg.ehlo_keywords {
                        if !offer_tls && keyword.eq_ignore_ascii_case("STARTTLS") {
                            continue;
                        }
                        text.push('\n');
                        text.push_str(&keyword.replace("{size_limit}", &size));
                    }
                    self.reply(now, &text, &[]);
                } else {
                    self.reply(now, &cfg.reply_helo, &[]);
                }
                true
            }
            Verb::Bdat if !cfg.reply_bdat_ok.is_empty() => self.bdat(now, command),
            Verb::Mail => self.mail(now, command),
            Verb::Rcpt => self.rcpt(now, command),
            Verb::Data => self.data(now, command),
            Verb::Rset => {
                if !command.args.is_empty() {
                    self.reply(now, &cfg.reply_rset_syntax, &[]);
                    return false;
                }
                self.reset_transaction(now);
                self.reply(now, &cfg.reply_rset, &[]);
                true
            }
            Verb::Noop => {
                self.reply(now, &cfg.reply_noop, &[]);
                true
            }
            Verb::Quit => {
                self.reply(now, &cfg.reply_quit, &[]);
                self.close(now);
                true
            }
            Verb::Vrfy => {
                let arg = command
                    .args
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string();
                if arg.is_empty() {
                    self.reply(now, &cfg.reply_vrfy_syntax, &[]);
                    return false;
                }
                if cfg.postfix_envelope {
                    return self.postfix_vrfy(now, command);
                }
                self.check_recipient(now, &arg, &cfg.reply_vrfy, false)
            }
            Verb::StartTls
                if cfg
                    .ehlo_keywords
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case("STARTTLS")) =>
            {
                self.starttls(now, command)
            }
            Verb::Etrn if !cfg.reply_etrn_syntax.is_empty() => {
                let domain = command.args.split_whitespace().next().unwrap_or("");
                let text = if self.txn.is_some() {
                    &cfg.reply_etrn_in_transaction
                } else if domain.is_empty() {
                    &cfg.reply_etrn_syntax
                } else {
                    self.push(
                        now,
                        ServerEvent::Log(LogRecord::EtrnRefused(
                            domain.trim_start_matches(['@', '#']).to_string(),
                        )),
                    );
                    &cfg.reply_etrn_unavailable
                };
                self.reply(
                    now,
                    text,
                    &[("addr", domain.trim_start_matches(['@', '#']))],
                );
                false
            }
            Verb::Other(name)
                if (name == "XCLIENT" || name == "XFORWARD")
                    && !cfg.reply_xclient_denied.is_empty() =>
            {
                let text = if self.txn.is_some() {
                    &cfg.reply_xclient_in_transaction
                } else {
                    &cfg.reply_xclient_denied
                };
                self.reply(now, text, &[]);
                false
            }
            Verb::Auth if !cfg.ehlo_keywords.is_empty() => {
                self.reply(now, &cfg.reply_auth, &[]);
                false
            }
            _ => {
                self.reply(now, &cfg.reply_unknown, &[]);
                false
            }
        }
    }
}

/// commands, HTTP/proxy verbs, and lines that do not start with a letter.
fn is_non_smtp(command: &Command) -> bool {
    let name = command.verb.name();
    // A header name: printable ASCII up to a colon (`Subject:`, `MAILFROM:<a@b>`).
    let header = name
        .find(':')
        .is_some_and(|i| i > 0 && name[..i].bytes().all(|b| b.is_ascii_graphic()));
    header
        || matches!(name, "CONNECT" | "GET" | "POST")
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
}
