//! Deliberately broken actors, to test the oracle itself (mutation testing): each breaks one
//! promise a mail system makes, and the oracle must name the broken invariant. Used by
//! `tests/oracle_mutants.rs`; a user can run them too, to see what each violation looks like.

/// One deliberate defect, injected where mail reaches the server's store or the client's
/// queue. A proxy that answers 250 for the server and drops the message, replays a
/// transaction it already relayed, or cuts the content short leaves the server holding what
/// the store mutants store, so the oracle (which judges what reaches the server) sees the
/// same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// The store acknowledges a message with 250 and keeps nothing.
    LoseAfterAck,
    /// Every message is stored twice.
    Duplicate,
    /// The content's last line is cut off before it is stored.
    Truncate,
    /// The client's queue forgets recipients refused with a 4xx instead of retrying them.
    ForgetRefusedRecipient,
}

impl Mutant {
    /// Every mutant.
    pub const ALL: [Mutant; 4] = [
        Mutant::LoseAfterAck,
        Mutant::Duplicate,
        Mutant::Truncate,
        Mutant::ForgetRefusedRecipient,
    ];
}

/// What a store mutant makes of an accepted message: the copies it keeps.
pub(super) fn stored(
    mutant: Option<Mutant>,
    delivery: &crate::proto::server::Delivery,
) -> Vec<crate::proto::server::Delivery> {
    match mutant {
        Some(Mutant::LoseAfterAck) => Vec::new(),
        Some(Mutant::Duplicate) => {
            let mut again = delivery.clone();
            again.queue_id.push_str("-DUP");
            vec![delivery.clone(), again]
        }
        Some(Mutant::Truncate) => {
            let mut cut = delivery.clone();
            let body = &cut.body[..cut.body.len().saturating_sub(2)];
            let keep = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            cut.body.truncate(keep);
            cut.size = cut.body.len() as u64;
            vec![cut]
        }
        _ => vec![delivery.clone()],
    }
}
