//! BDAT (RFC 3030) as Postfix 3.7 takes it: chunks read in fragments, refusals after them.

use super::*;

/// A BDAT chunk being read.
#[derive(Debug)]
pub(super) struct Chunk {
    /// Bytes still to come.
    pub(super) left: u64,
    /// Its size.
    pub(super) size: u64,
    /// `BDAT n LAST`.
    pub(super) last: bool,
    /// Read and thrown away, then answered with this.
    pub(super) refusal: Option<String>,
    /// The bytes of the fragment being read: Postfix reads a chunk in fragments of up to
    /// 4096 bytes and reads its lines (for the log's Message-ID) only out of whole ones.
    pub(super) fragment: Vec<u8>,
    /// The size of that fragment.
    pub(super) fragment_size: usize,
}

impl Chunk {
    /// Takes `bytes` (just read; `left` already counts them out): the fragments they complete.
    pub(super) fn fragments(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        const FRAGMENT: u64 = 4096;
        let mut done = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.fragment.is_empty() {
                let remaining = self.left + rest.len() as u64;
                self.fragment_size = remaining.min(FRAGMENT) as usize;
            }
            let take = (self.fragment_size - self.fragment.len()).min(rest.len());
            self.fragment.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.fragment.len() == self.fragment_size {
                done.push(std::mem::take(&mut self.fragment));
            }
        }
        done
    }
}

/// Postfix's `bdat_state`: a message arriving in BDAT chunks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bdat {
    #[default]
    None,
    /// Chunks are being taken.
    Receiving,
    /// A chunk was refused: the rest are thrown away until `BDAT n LAST`.
    Failed,
}

impl ServerSession {
    /// BDAT as Postfix 3.7 takes it: the chunk is always read; refusals come after it.
    pub(super) fn bdat(&mut self, now: Time, command: &Command) -> bool {
        let cfg = self.cfg.clone();
        let Some((size, last)) = command.bdat() else {
            self.reply(now, "521 5.5.4 Syntax: BDAT count [LAST]", &[]);
            self.close(now);
            return false;
        };
        let refusal = if size == 0 && !last {
            self.log_bdat_warning(now, BdatWarning::Null);
            Some("551 5.7.1 Null BDAT request".to_string())
        } else if self.bdat == Bdat::Failed {
            Some(format!(
                "551 5.0.0 Discarded {size} bytes after earlier error"
            ))
        } else if self.bdat == Bdat::None && self.txn.is_none() {
            Some(cfg.reply_need_rcpt.clone())
        } else if self.bdat == Bdat::None && self.txn.as_ref().is_some_and(|t| t.rcpt_to.is_empty())
        {
            Some(cfg.reply_no_valid_recipients.clone())
        } else if let Some(text) = self.first_chunk_fault(now) {
            Some(text)
        } else if self.bdat_size.saturating_add(size) > cfg.message_size_limit {
            self.log_bdat_warning(now, BdatWarning::TooBig);
            Some("552 5.3.4 Chunk exceeds message size limit".to_string())
        } else {
            None
        };
        if refusal.is_none() {
            self.log.chunk_started(self.bdat == Bdat::None);
            self.bdat = Bdat::Receiving;
        }
        // Read (even when empty: answered once the command is counted) by handle_input.
        self.state = State::Chunk(Chunk {
            left: size,
            size,
            last,
            refusal,
            fragment: Vec::new(),
            fragment_size: 0,
        });
        true
    }

    /// An injected fault at the DATA stage applies to a message's first BDAT, which Postfix
    /// checks as it checks DATA: a reply (sent once the chunk is read) or a delay.
    pub(super) fn first_chunk_fault(&mut self, now: Time) -> Option<String> {
        if self.bdat != Bdat::None {
            return None;
        }
        let i = self.faults.iter().position(|(s, f)| {
            *s == ServerStage::Data && !matches!(f, StageFault::CrashAfterDot(_))
        })?;
        match self.faults.remove(i).1 {
            StageFault::Reply(text) | StageFault::ReplyAt { text, .. } => {
                let note = format!("fault: answering the first BDAT with {text:?}");
                self.push(now, ServerEvent::Note(note));
                Some(text)
            }
            StageFault::Delay(d) => {
                let note = format!("fault: first BDAT reply delayed by {}", Dur(d));
                self.push(now, ServerEvent::Note(note));
                self.extra_delay += d;
                None
            }
            StageFault::CrashAfterDot(_) => None,
        }
    }

    /// A chunk has been read: answer it, and queue the message after `BDAT n LAST`.
    pub(super) fn end_of_chunk(&mut self, now: Time, chunk: Chunk) {
        let cfg = self.cfg.clone();
        if let Some(text) = chunk.refusal {
            self.log.chunk_done(false);
            self.reply(now, &text, &[]);
            if text.starts_with("421") {
                return self.close(now);
            }
            if chunk.last {
                self.reset_transaction(now);
            } else {
                if self.bdat == Bdat::Receiving && self.streaming {
                    self.push(now, ServerEvent::Discard);
                }
                self.bdat = Bdat::Failed;
            }
            self.error_count += 1;
            self.check_error_limit(now);
            return;
        }
        if chunk.last {
            let body = std::mem::take(&mut self.bdat_body);
            let size = self.bdat_size;
            let template = cfg.reply_bdat_queued.clone();
            let (headers_ended, logged_size) = self.log.content_ended(size);
            if let Some(message_id) = headers_ended {
                let queue_id = self.txn.as_ref().and_then(|t| t.queue_id.clone());
                self.log_message_id(now, queue_id, message_id);
            }
            // Postfix answers with its own count: each line's length plus 2.
            let counted = self.log.chunk_size().to_string();
            self.queue_message(now, (body, size, logged_size), &template, &counted);
        } else {
            self.log.chunk_done(true);
            let size = chunk.size.to_string();
            self.reply(now, &cfg.reply_bdat_ok, &[("size", &size)]);
        }
    }
}
