//! What the session reports to the mail log (`LogRecord`s) and its rejections.

use super::*;

impl ServerSession {
    /// smtpd's `warning: Illegal address syntax from CLIENT in COMMAND command: ARGUMENT`.
    pub(super) fn log_illegal_address(&mut self, now: Time, command: &'static str, argument: &str) {
        let argument = maillog::printable(argument.as_bytes());
        let record = LogRecord::IllegalAddress { command, argument };
        self.push(now, ServerEvent::Log(record));
    }

    /// smtpd's `warning: QUEUEID|NOQUEUE: ...` about a BDAT command.
    pub(super) fn log_bdat_warning(&mut self, now: Time, warning: BdatWarning) {
        let queue_id = self
            .txn
            .as_ref()
            .and_then(|t| t.queue_id.as_ref().map(|(id, _)| id.clone()));
        let record = LogRecord::BdatWarning { queue_id, warning };
        self.push(now, ServerEvent::Log(record));
    }

    /// Logs the end of the session (once): why, if not by QUIT, and the command summary.
    pub(super) fn log_end(&mut self, now: Time, reason: Option<&'static str>, bytes: u64) {
        for record in self.log.end(reason, bytes) {
            self.push(now, ServerEvent::Log(record));
        }
    }

    /// Logs a command line as read (`smtpd -v`), and its length if over the limit.
    pub(super) fn log_command_line(&mut self, now: Time, line: &crate::proto::line::Line) {
        let text = String::from_utf8_lossy(&line.bytes).into_owned();
        self.push(now, ServerEvent::Log(LogRecord::Command(text)));
        if line.ending == Ending::Cut {
            let head = maillog::printable(&line.bytes).chars().take(30).collect();
            let limit = self.cfg.line_length_limit;
            self.push(
                now,
                ServerEvent::Log(LogRecord::RequestTooLong { limit, head }),
            );
        }
    }

    /// Logs cleanup's message-id line for the message being received.
    pub(super) fn log_message_id(
        &mut self,
        now: Time,
        queue_id: Option<(String, Time)>,
        message_id: Option<String>,
    ) {
        if let Some((queue_id, opened)) = queue_id {
            let record = LogRecord::MessageId {
                queue_id,
                opened,
                message_id,
            };
            self.push(now, ServerEvent::Log(record));
        }
    }

    /// Refuses by a restriction: Postfix's `NOQUEUE: reject:` line, then the reply
    /// (`{addr}` in the template is the recipient `to`).
    pub(super) fn reject(
        &mut self,
        now: Time,
        template: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) {
        self.reject_logged_as(now, template, from, to, to);
    }

    /// As [`reject`](Self::reject), the log naming the recipient `logged` (Postfix logs the
    /// external, quoted form where its reply has the internal one).
    pub(super) fn reject_logged_as(
        &mut self,
        now: Time,
        template: &str,
        from: Option<&str>,
        to: Option<&str>,
        logged: Option<&str>,
    ) {
        let vars: Vec<(&str, &str)> = to.map(|to| ("addr", to)).into_iter().collect();
        let reply = self.expand(template, &vars).replace('\n', " ");
        let record = LogRecord::Reject {
            queue_id: self
                .txn
                .as_ref()
                .and_then(|t| t.queue_id.as_ref().map(|(id, _)| id.clone())),
            stage: self.log.after(),
            reply,
            from: from.map(str::to_string),
            to: logged.map(str::to_string),
            protocol: self.log.protocol(),
            helo: self.helo.clone(),
        };
        self.push(now, ServerEvent::Log(record));
        self.reply(now, template, &vars);
    }
}
