//! MAIL, RCPT and VRFY as Postfix reads them (`postfix_envelope`): its address parser,
//! resolution and local recipient check.

use super::*;

impl ServerSession {
    pub(super) fn is_local(&self, domain: &str) -> bool {
        let domain = domain.to_lowercase();
        let domain = domain.strip_suffix('.').unwrap_or(&domain);
        self.local_domains.iter().any(|d| d == domain || d == "*")
    }

    /// MAIL as Postfix's `mail_cmd` reads it (after the HELO and nesting checks).
    pub(super) fn postfix_mail(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let words = envelope::tokens(&command.args);
        if words.len() < 2 || !words[0].text.eq_ignore_ascii_case("FROM:") {
            self.reply(now, &cfg.reply_mail_syntax, &[]);
            return false;
        }
        let smtputf8 = words[2..]
            .iter()
            .any(|w| w.text.eq_ignore_ascii_case("SMTPUTF8"));
        let address = match envelope::extract(&words[1].text) {
            Ok(a)
                if !words[1].unclosed
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), &cfg.hostname) =>
            {
                a
            }
            _ => {
                // An unclosed `<` is refused before the address is read: no warning.
                if !words[1].unclosed {
                    self.log_illegal_address(now, "MAIL", &words[1].text);
                }
                self.reply(now, &cfg.reply_mail_bad_address, &[]);
                return false;
            }
        };
        if let Err(text) = envelope::mail_params(&words[2..], &mut self.declared_size) {
            self.reply(now, &text, &[]);
            return false;
        }
        if self
            .declared_size
            .is_some_and(|size| size > cfg.message_size_limit)
        {
            let sender = envelope::quote_local(&address);
            self.reject(now, &cfg.reply_size_exceeded, Some(&sender), None);
            return false;
        }
        if now < cfg.storage_full_until.0 {
            self.reply(now, &cfg.reply_storage_full, &[]);
            return false;
        }
        self.txn = Some(Transaction {
            mail_from: address,
            smtputf8,
            ..Default::default()
        });
        self.reply(now, &cfg.reply_mail_ok, &[]);
        true
    }

    /// RCPT as Postfix's `rcpt_cmd` reads it (inside a transaction).
    pub(super) fn postfix_rcpt(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let words = envelope::tokens(&command.args);
        if words.len() < 2 || !words[0].text.eq_ignore_ascii_case("TO:") {
            self.reply(now, &cfg.reply_rcpt_syntax, &[]);
            return false;
        }
        let smtputf8 = self.txn.as_ref().is_some_and(|t| t.smtputf8);
        let address = match envelope::extract(&words[1].text) {
            Ok(a)
                if !words[1].unclosed
                    && !a.is_empty()
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), &cfg.hostname) =>
            {
                a
            }
            _ => {
                if !words[1].unclosed {
                    self.log_illegal_address(now, "RCPT", &words[1].text);
                }
                self.reply(now, &cfg.reply_rcpt_bad_address, &[]);
                return false;
            }
        };
        let mut warning = None;
        let params = envelope::rcpt_params_warning(&words[2..], &mut warning);
        if let Some((value, list)) = warning {
            let record = LogRecord::UnknownNotify { value, list };
            self.push(now, ServerEvent::Log(record));
        }
        if let Err(text) = params {
            self.reply(now, &text, &[]);
            return false;
        }
        let txn = self.txn.as_ref().expect("checked by rcpt");
        if txn.rcpt_to.len() as u32 >= cfg.recipient_limit {
            self.reply(now, &cfg.reply_too_many_recipients, &[]);
            return false;
        }
        let ok = cfg.reply_rcpt_ok.clone();
        let accepted = self.postfix_check_recipient(now, &address, (&ok, &address), true);
        if accepted {
            self.txn
                .as_mut()
                .expect("checked by rcpt")
                .rcpt_to
                .push(address);
        }
        accepted
    }

    /// VRFY as Postfix's `vrfy_cmd` reads it (an argument is there).
    pub(super) fn postfix_vrfy(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let mut words = envelope::tokens(&command.args);
        let smtputf8 = words.len() > 1
            && words
                .last()
                .is_some_and(|w| w.text.eq_ignore_ascii_case("SMTPUTF8"));
        if smtputf8 {
            words.pop();
        }
        let address = match (
            words.len(),
            words.first().map(|w| envelope::extract(&w.text)),
        ) {
            (1, Some(Ok(a)))
                if !a.is_empty()
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), &cfg.hostname) =>
            {
                a
            }
            _ => {
                let argument: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
                self.log_illegal_address(now, "VRFY", &argument.join(" "));
                self.reply(now, &cfg.reply_rcpt_bad_address, &[]);
                return false;
            }
        };
        let shown = words[0].text.clone();
        self.postfix_check_recipient(now, &address, (&cfg.reply_vrfy, &shown), false)
    }

    /// Relay check, then the local recipient table, on the resolved address; refusals name
    /// `address`, the `ok` reply names `shown`.
    pub(super) fn postfix_check_recipient(
        &mut self,
        now: Time,
        address: &str,
        (ok, shown): (&str, &str),
        opens_queue: bool,
    ) -> bool {
        let cfg = self.cfg.clone();
        let r = envelope::resolve(address, &|d| self.is_local(d), &cfg.hostname);
        let known = || {
            cfg.mailboxes.is_empty()
                || r.local == "postmaster"
                || r.local == "mailer-daemon"
                || cfg.mailboxes.iter().any(|m| {
                    m.rsplit_once('@')
                        .map_or(m.as_str(), |(l, _)| l)
                        .eq_ignore_ascii_case(&r.local)
                })
        };
        let refusal = if r.routed || !self.is_local(&r.domain) {
            Some(&cfg.reply_relay_denied)
        } else if !known() {
            Some(&cfg.reply_unknown_user)
        } else {
            None
        };
        if let Some(template) = refusal {
            let sender = self.txn.as_ref().map(|t| t.mail_from.clone());
            let external = envelope::quote_local(address);
            self.reject_logged_as(
                now,
                template,
                sender.as_deref(),
                Some(address),
                Some(&external),
            );
            return false;
        }
        // A recipient of the transaction (RCPT, not VRFY) opens the queue file.
        if opens_queue {
            self.open_queue(now);
        }
        self.reply(now, ok, &[("addr", shown)]);
        true
    }
}
