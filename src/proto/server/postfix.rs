//! MAIL, RCPT and VRFY as Postfix reads them (`postfix_envelope`): its address parser,
//! resolution and local recipient check.

use super::restrictions;
use super::*;

impl ServerSession {
    pub(super) fn is_local(&self, domain: &str) -> bool {
        let domain = domain.to_lowercase();
        let domain = domain.strip_suffix('.').unwrap_or(&domain);
        self.local_domains.iter().any(|d| d == domain || d == "*")
    }

    /// The EHLO keyword `name` is announced (a discarded one is refused as a parameter).
    pub(super) fn offers(&self, name: &str) -> bool {
        self.cfg.offers(name)
    }

    /// The HELO name as Postfix keeps it: the words joined, each byte that is not
    /// printable ASCII shown as `?`.
    fn helo_name(&self) -> Option<String> {
        let args = self.helo_args.as_deref()?;
        let joined = args.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(
            joined
                .bytes()
                .map(|b| if b.is_ascii_graphic() { b as char } else { '?' })
                .collect(),
        )
    }

    /// ETRN as Postfix's `etrn_cmd` takes it: the HELO and sender restrictions (delayed
    /// until here), then the fast flush service, which serves `relay_domains`.
    pub(super) fn etrn(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let domain = command.args.split_whitespace().next().unwrap_or("");
        let site = domain.trim_start_matches(['@', '#']);
        if cfg.helo_required && self.helo.is_none() {
            self.reply(now, "503 Error: send HELO/EHLO first", &[]);
            return false;
        }
        if self.txn.is_some() {
            self.reply(now, &cfg.reply_etrn_in_transaction, &[]);
            return false;
        }
        if domain.is_empty() {
            self.reply(now, &cfg.reply_etrn_syntax, &[]);
            return false;
        }
        let helo = self.helo_name();
        if let Some(refusal) = restrictions::early(&cfg, &self.client, helo.as_deref(), None) {
            self.reply(now, &refusal, &[]);
            return false;
        }
        if restrictions::relay_domain(&cfg, site) {
            self.reply(now, "250 Queuing started", &[]);
            return true;
        }
        let refused = LogRecord::EtrnRefused(site.to_string());
        self.push(now, ServerEvent::Log(refused));
        self.reply(now, &cfg.reply_etrn_unavailable, &[("addr", site)]);
        false
    }

    /// Postfix's `myorigin`: the domain of an address without one.
    pub(super) fn origin(&self) -> &str {
        if self.cfg.origin.is_empty() {
            &self.cfg.hostname
        } else {
            &self.cfg.origin
        }
    }

    /// The local recipient table knows `local` (lower case): a mailbox, `postmaster`,
    /// `mailer-daemon`, or one of them with an extension after `recipient_delimiter`.
    fn is_mailbox(&self, local: &str) -> bool {
        let cfg = &self.cfg;
        let listed = |name: &str| {
            cfg.mailboxes.is_empty()
                || name == "postmaster"
                || name == "mailer-daemon"
                || cfg.mailboxes.iter().any(|m| {
                    m.rsplit_once('@')
                        .map_or(m.as_str(), |(l, _)| l)
                        .eq_ignore_ascii_case(name)
                })
        };
        listed(local)
            || envelope::strip_extension(local, &cfg.recipient_delimiter).is_some_and(listed)
    }

    /// MAIL as Postfix's `mail_cmd` reads it (after the HELO and nesting checks).
    pub(super) fn postfix_mail(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let words = envelope::tokens(&command.args);
        if words.len() < 2 || !words[0].text.eq_ignore_ascii_case("FROM:") {
            self.reply(now, &cfg.reply_mail_syntax, &[]);
            return false;
        }
        // SMTPUTF8 is requested only where it is enabled (else the parameter is refused
        // later, after the address was checked as ASCII).
        let smtputf8 = self.offers("SMTPUTF8")
            && words[2..]
                .iter()
                .any(|w| w.text.eq_ignore_ascii_case("SMTPUTF8"));
        let address = match envelope::extract(&words[1].text) {
            Ok(a)
                if !words[1].unclosed
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), self.origin()) =>
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
        // An extension this server does not announce: its parameters are refused where
        // they come, after the parameters before them were read.
        let disabled = words[2..].iter().position(|w| {
            let name = w.text.split('=').next().unwrap_or("").to_ascii_uppercase();
            (w.text.contains('=')
                && matches!(name.as_str(), "ENVID" | "RET")
                && !self.offers("DSN"))
                || (w.text.eq_ignore_ascii_case("SMTPUTF8") && !self.offers("SMTPUTF8"))
        });
        let params = &words[2..2 + disabled.unwrap_or(words.len() - 2)];
        if let Err(text) = envelope::mail_params(params, &mut self.declared_size) {
            self.reply(now, &text, &[]);
            return false;
        }
        if let Some(i) = disabled {
            let word = &words[2 + i].text;
            let text = if word.contains('=') {
                "501 5.7.1 DSN support is disabled".to_string()
            } else {
                format!("555 5.5.4 Unsupported option: {word}")
            };
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
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), self.origin()) =>
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
        let disabled = words[2..].iter().position(|w| {
            let name = w.text.split('=').next().unwrap_or("").to_ascii_uppercase();
            w.text.contains('=')
                && matches!(name.as_str(), "NOTIFY" | "ORCPT")
                && !self.offers("DSN")
        });
        let mut warning = None;
        let words = &words[..2 + disabled.unwrap_or(words.len() - 2)];
        let params =
            envelope::rcpt_params_warning(&words[2..], &mut warning).and_then(
                |()| match disabled {
                    Some(_) => Err("501 5.7.1 DSN support is disabled".to_string()),
                    None => Ok(()),
                },
            );
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
        // Postfix takes several words as one argument, joined by spaces (common practice:
        // `VRFY Bob Smith <bob@example.org>`).
        let argument: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        let argument = argument.join(" ");
        let unclosed = words.iter().any(|w| w.unclosed);
        let address = match envelope::extract(&argument) {
            Ok(a)
                if !unclosed
                    && !a.is_empty()
                    && envelope::check_addr(&a, smtputf8, &|d| self.is_local(d), self.origin()) =>
            {
                a
            }
            _ => {
                self.log_illegal_address(now, "VRFY", &argument);
                self.reply(now, &cfg.reply_rcpt_bad_address, &[]);
                return false;
            }
        };
        let shown = argument;
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
        let r = envelope::resolve(address, &|d| self.is_local(d), self.origin());
        let local = self.is_local(&r.domain);
        let known = local && !r.routed && self.is_mailbox(&r.local);
        let sender = self.txn.as_ref().map(|t| t.mail_from.clone());
        let helo = self.helo_name();
        let subject = restrictions::Subject {
            client: &self.client,
            helo: helo.as_deref(),
            sender: sender.as_deref(),
            recipient: address,
            resolved: &r,
            local,
            known,
        };
        let refusal = restrictions::check(&cfg, &subject, &cfg.reply_relay_denied);
        if let Some(template) = refusal {
            let external = envelope::quote_local(address);
            self.reject_logged_as(
                now,
                &template,
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
