//! The DKIM line of a message's report: whether the signature the client's copy carries still
//! verifies on each copy the server delivered (a changed header or body breaks it).

use super::ledger::assign_deliveries;
use super::Report;
use crate::dkim::Dkim;
use crate::proto::client::Message;
use crate::proto::server::Delivery;

/// Fills in `report`'s DKIM line for every message `dkim` signed.
pub fn judge_dkim(report: &mut Report, dkim: &Dkim, messages: &[Message], deliveries: &[Delivery]) {
    let owner = assign_deliveries(messages, deliveries);
    for (mi, (message, entry)) in messages.iter().zip(&mut report.messages).enumerate() {
        if !message.body.starts_with(b"DKIM-Signature:") {
            entry.dkim = Some("not signed (the message could not be signed)".into());
            continue;
        }
        let copies: Vec<String> = deliveries
            .iter()
            .zip(&owner)
            .filter(|(_, own)| own.is_some_and(|(m, _)| m == mi))
            .map(|(d, _)| format!("{}: {}", d.queue_id, dkim.verify(&d.body)))
            .collect();
        let at_server = if copies.is_empty() {
            "no copy at the server".to_string()
        } else {
            format!("at the server {}", copies.join("; "))
        };
        entry.dkim = Some(format!("signed {}; {at_server}", dkim.signer()));
    }
}
