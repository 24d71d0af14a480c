//! DKIM (RFC 6376) on a run's messages: each client message signed with an Ed25519 key
//! (RFC 8463) made from the run's seed, and each server copy checked against that key. Both
//! with cfdkim; the signature time is the simulation's clock and the key lookup is answered
//! from the run itself (no DNS, no wall clock).

use crate::scenario::DkimSection;
use crate::seeds::{rng, Stream};
use base64::Engine;
use rand::RngCore;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// The header fields signed, when the message has them.
const SIGNED: &[&str] = &["From", "To", "Subject", "Date", "Message-ID"];

/// A run's signing key and where a verifier finds its public half.
pub struct Dkim {
    section: DkimSection,
    key: [u8; 32],
}

/// Answers the verifier's one lookup with the run's own key record.
struct KnownKey(String);

impl cfdkim::dns::Lookup for KnownKey {
    fn lookup_txt<'a>(
        &'a self,
        _name: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<String>, cfdkim::DKIMError>> + Send + 'a>>
    {
        Box::pin(async move { Ok(vec![self.0.clone()]) })
    }
}

impl Dkim {
    /// The key of run `seed`.
    pub fn new(section: &DkimSection, seed: u64) -> Dkim {
        let mut key = [0u8; 32];
        rng(seed, Stream::Dkim).fill_bytes(&mut key);
        Dkim {
            section: section.clone(),
            key,
        }
    }

    /// `content` (CRLF lines) with a `DKIM-Signature` field in front, signed at `unix_secs`.
    pub fn sign(&self, content: &[u8], unix_secs: u64) -> Result<Vec<u8>, String> {
        let parsed = mailparse::parse_mail(content).map_err(|e| e.to_string())?;
        let time = i64::try_from(unix_secs)
            .ok()
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .ok_or("a signature time out of range")?;
        let logger = logger();
        let relaxed = cfdkim::canonicalization::Type::Relaxed;
        let signer = cfdkim::SignerBuilder::new()
            .with_signed_headers(SIGNED)
            .map_err(|e| e.to_string())?
            .with_private_key(cfdkim::DkimPrivateKey::Ed25519(
                ed25519_dalek::SigningKey::from_bytes(&self.key),
            ))
            .with_selector(&self.section.selector)
            .with_signing_domain(&self.section.domain)
            .with_header_canonicalization(relaxed.clone())
            .with_body_canonicalization(relaxed)
            .with_logger(&logger)
            .with_time(time)
            .build()
            .map_err(|e| e.to_string())?;
        let field = signer.sign(&parsed).map_err(|e| e.to_string())?;
        let mut out = field.into_bytes();
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(content);
        Ok(out)
    }

    /// Whether the signature on `content` verifies: `pass`, or `fail (why)`, or `none` when
    /// there is no signature of the run's domain.
    pub fn verify(&self, content: &[u8]) -> String {
        let Ok(parsed) = mailparse::parse_mail(content) else {
            return "fail (the message does not parse)".into();
        };
        let public = ed25519_dalek::SigningKey::from_bytes(&self.key)
            .verifying_key()
            .to_bytes();
        let record = format!(
            "v=DKIM1; k=ed25519; p={}",
            base64::engine::general_purpose::STANDARD.encode(public)
        );
        let logger = logger();
        let check = cfdkim::verify_email_with_resolver(
            &logger,
            &self.section.domain,
            &parsed,
            Arc::new(KnownKey(record)),
        );
        // The lookup answers at once, so the check never waits.
        let mut check = std::pin::pin!(check);
        match check.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(result)) => match result.error() {
                Some(e) => format!("{} ({e})", result.summary()),
                None => result.summary().to_string(),
            },
            Poll::Ready(Err(e)) => format!("fail ({e})"),
            Poll::Pending => "fail (the check did not complete)".into(),
        }
    }

    /// The signing domain and selector, as a report names them.
    pub fn signer(&self) -> String {
        format!("d={} s={}", self.section.domain, self.section.selector)
    }
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}
