//! The mail transaction: MAIL, RCPT, DATA, the end of a message, queueing and reset.

use super::*;

impl ServerSession {
    pub(super) fn mail(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        if cfg.helo_required && self.helo.is_none() {
            self.reply(now, &cfg.reply_need_helo, &[]);
            return false;
        }
        if cfg.postfix_envelope {
            // Postfix forgets SMTPUTF8 at every MAIL, a refused nested one included.
            if let Some(txn) = self.txn.as_mut() {
                txn.smtputf8 = false;
            }
        }
        if self.txn.is_some() {
            self.reply(now, &cfg.reply_mail_nested, &[]);
            return false;
        }
        if self.bdat != Bdat::None {
            self.reply(now, "503 5.5.1 Error: MAIL after BDAT", &[]);
            return false;
        }
        if cfg.postfix_envelope {
            return self.postfix_mail(now, command);
        }
        let Some(path) = self.path_or_refuse(
            now,
            command,
            &cfg.reply_mail_syntax,
            &cfg.reply_mail_bad_address,
        ) else {
            return false;
        };
        let declared: Option<u64> = path.param("SIZE").and_then(|s| s.parse().ok());
        if self.size_refused || declared.is_some_and(|size| size > cfg.message_size_limit) {
            self.size_refused |= cfg.size_refusal_sticks;
            self.reject(now, &cfg.reply_size_exceeded, Some(&path.address), None);
            return false;
        }
        if now < cfg.storage_full_until.0 {
            self.reject(now, &cfg.reply_storage_full, Some(&path.address), None);
            return false;
        }
        self.txn = Some(Transaction {
            mail_from: path.address,
            ..Default::default()
        });
        self.reply(now, &cfg.reply_mail_ok, &[]);
        true
    }

    /// The path of MAIL or RCPT; when it does not parse, the reply for a syntax error or a
    /// bad address is sent and there is none.
    fn path_or_refuse(
        &mut self,
        now: Time,
        command: &Command,
        syntax: &str,
        bad_address: &str,
    ) -> Option<crate::proto::Path> {
        match command.path() {
            Ok(path) => Some(path),
            Err(PathError::Syntax) => {
                self.reply(now, syntax, &[]);
                None
            }
            Err(PathError::BadAddress) => {
                self.reply(now, bad_address, &[]);
                None
            }
        }
    }

    pub(super) fn rcpt(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        if self.txn.is_none() {
            self.reply(now, &cfg.reply_need_mail, &[]);
            return false;
        }
        if self.bdat != Bdat::None {
            self.reply(now, "503 5.5.1 Error: RCPT after BDAT", &[]);
            return false;
        }
        if cfg.postfix_envelope {
            return self.postfix_rcpt(now, command);
        }
        let Some(path) = self.path_or_refuse(
            now,
            command,
            &cfg.reply_rcpt_syntax,
            &cfg.reply_rcpt_bad_address,
        ) else {
            return false;
        };
        if path.address.is_empty() {
            self.reply(now, &cfg.reply_rcpt_bad_address, &[]);
            return false;
        }
        let txn = self.txn.as_ref().expect("checked above");
        if txn.rcpt_to.len() as u32 >= cfg.recipient_limit {
            self.reply(now, &cfg.reply_too_many_recipients, &[]);
            return false;
        }
        let ok = self.check_recipient(now, &path.address, &cfg.reply_rcpt_ok, true);
        if ok {
            self.txn
                .as_mut()
                .expect("checked above")
                .rcpt_to
                .push(path.address);
        }
        ok
    }

    /// Local and known: reply `ok`; local and unknown: unknown user; else relay denied.
    /// `opens_queue`: a recipient of the transaction (RCPT, not VRFY): the first accepted one
    /// opens the queue file and gets the message its queue id, as in Postfix.
    pub(super) fn check_recipient(
        &mut self,
        now: Time,
        address: &str,
        ok: &str,
        opens_queue: bool,
    ) -> bool {
        let cfg = self.cfg.clone();
        let (local_part, domain) = match address.rsplit_once('@') {
            Some((l, d)) => (l.to_ascii_lowercase(), d.to_ascii_lowercase()),
            None => (
                address.to_ascii_lowercase(),
                cfg.hostname.to_ascii_lowercase(),
            ),
        };
        let routed = local_part.contains(['%', '!', '@']);
        let local = self.local_domains.iter().any(|d| *d == domain || d == "*");
        if routed || !local {
            let sender = self.txn.as_ref().map(|t| t.mail_from.clone());
            self.reject(
                now,
                &cfg.reply_relay_denied,
                sender.as_deref(),
                Some(address),
            );
            return false;
        }
        let known = cfg.mailboxes.is_empty()
            || cfg.mailboxes.iter().any(|m| {
                m.rsplit_once('@')
                    .map_or(m.as_str(), |(l, _)| l)
                    .eq_ignore_ascii_case(&local_part)
            });
        if !known {
            let sender = self.txn.as_ref().map(|t| t.mail_from.clone());
            self.reject(
                now,
                &cfg.reply_unknown_user,
                sender.as_deref(),
                Some(address),
            );
            return false;
        }
        if opens_queue {
            self.open_queue(now);
        }
        self.reply(now, ok, &[("addr", address)]);
        true
    }

    pub(super) fn data(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        if self.bdat != Bdat::None {
            self.reply(now, "503 5.5.1 Error: DATA after BDAT", &[]);
            return false;
        }
        let Some(txn) = &self.txn else {
            self.reply(now, &cfg.reply_need_rcpt, &[]);
            return false;
        };
        if txn.rcpt_to.is_empty() {
            // Postfix: a transaction without an accepted recipient gets 554, refused or not.
            self.reply(now, &cfg.reply_no_valid_recipients, &[]);
            return false;
        }
        if !command.args.is_empty() {
            self.reply(now, &cfg.reply_data_syntax, &[]);
            return false;
        }
        self.reply(now, &cfg.reply_data_go, &[]);
        self.lines.set_limits(LineLimits {
            max_len: cfg.line_length_limit,
            bare_lf_ends_line: cfg.bare_lf_ends_line,
            overflow: Overflow::Split,
        });
        // Keep one byte more than the limit so an oversized message is recognised.
        let keep = if self.streaming {
            None
        } else {
            Some(cfg.message_size_limit + 1)
        };
        self.state = State::Data(DataReceiver::new(keep));
        self.log.content_started();
        true
    }

    pub(super) fn end_of_data(&mut self, now: Time, mut data: DataReceiver) {
        let cfg = self.cfg.clone();
        if self.streaming {
            let rest = data.take_body();
            if !rest.is_empty() {
                self.push(now, ServerEvent::Content(rest));
            }
        }
        let size = data.size();
        let (headers_ended, logged_size) = self.log.content_ended(size);
        if let Some(message_id) = headers_ended {
            let queue_id = self.txn.as_ref().and_then(|t| t.queue_id.clone());
            self.log_message_id(now, queue_id, message_id);
        }
        if size > cfg.message_size_limit {
            self.reset_transaction(now);
            if self.streaming {
                self.push(now, ServerEvent::Discard);
            }
            self.reply(now, &cfg.reply_message_too_big, &[]);
            self.log.message_done(false);
            self.error_count += 1;
            return;
        }
        let template = cfg.reply_queued.clone();
        let body = data.into_body();
        self.queue_message(now, (body, size, logged_size), &template, "");
    }

    /// Postfix's `mail_reset`: the transaction, a declared SIZE and BDAT chunks are forgotten.
    pub(super) fn reset_transaction(&mut self, now: Time) {
        if self.bdat == Bdat::Receiving && self.streaming {
            self.push(now, ServerEvent::Discard);
        }
        self.txn = None;
        self.declared_size = None;
        self.bdat = Bdat::None;
        self.bdat_body.clear();
        self.bdat_size = 0;
    }

    /// A complete message: queued (unless a fault intervenes) and answered.
    /// `message`: the content, its size, and its size as the log says it.
    pub(super) fn queue_message(
        &mut self,
        now: Time,
        message: (Vec<u8>, u64, u64),
        reply: &str,
        chunk: &str,
    ) {
        let (body, size, logged_size) = message;
        let txn = self
            .txn
            .take()
            .expect("a message only arrives inside a transaction");
        self.bdat = Bdat::None; // delivered, not discarded
        self.reset_transaction(now);
        if self.stage_fault(now, ServerStage::Dot).is_some() {
            self.log.message_done(false);
            if self.streaming {
                self.push(now, ServerEvent::Discard);
            }
            return;
        }
        let (queue_id, opened) = match txn.queue_id {
            Some(id) => id,
            None => {
                self.queued += 1;
                (queue_id(self.queue_salt, self.queued), now)
            }
        };
        let queued = LogRecord::Queued {
            queue_id: queue_id.clone(),
            opened,
            from: txn.mail_from.clone(),
            size: logged_size,
            to: txn.rcpt_to.clone(),
        };
        self.push(now, ServerEvent::Log(queued));
        let delivery = Delivery {
            queue_id: queue_id.clone(),
            helo: self.helo.clone(),
            mail_from: txn.mail_from,
            rcpt_to: txn.rcpt_to,
            body,
            size,
        };
        self.push(now, ServerEvent::Deliver(delivery));
        let crash = self
            .faults
            .iter()
            .position(|(s, f)| *s == ServerStage::Dot && matches!(f, StageFault::CrashAfterDot(_)));
        if let Some(i) = crash {
            let (_, StageFault::CrashAfterDot(restart)) = self.faults.remove(i) else {
                unreachable!()
            };
            self.push(
                now,
                ServerEvent::Note(format!(
                    "fault: crash after queueing {queue_id}, before the 250"
                )),
            );
            self.push(now, ServerEvent::Crash(restart));
            self.log.crashed();
            self.state = State::Closed;
            return;
        }
        self.log.message_done(true);
        self.reply(now, reply, &[("queue_id", &queue_id), ("size", chunk)]);
        self.error_count = 0;
        self.junk_cmds = 0;
    }

    /// The first accepted recipient opens the queue file: the message gets its queue id.
    pub(super) fn open_queue(&mut self, now: Time) {
        if let Some(txn) = self.txn.as_mut().filter(|t| t.queue_id.is_none()) {
            self.queued += 1;
            let id = queue_id(self.queue_salt, self.queued);
            txn.queue_id = Some((id.clone(), now));
            self.push(now, ServerEvent::Log(LogRecord::QueueOpened(id)));
        }
    }
}
