//! The known divergences from the reference Postfix: differences that are deliberate or out of
//! scope, each with its reason (`known-divergences.toml` beside this file). A session whose
//! first difference in code, enhanced code or close comes at or after a command a divergence
//! names is counted under that divergence and not compared further.

use serde::Deserialize;

/// One known divergence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// A short name.
    pub id: String,
    /// The command lines it starts at: a line whose first word is this (case-insensitive).
    pub verb: String,
    /// Why smtpsim differs here.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    divergence: Vec<Divergence>,
}

/// The file, as built into the binary.
pub const SOURCE: &str = include_str!("known-divergences.toml");

/// Every known divergence.
pub fn all() -> Vec<Divergence> {
    toml::from_str::<File>(SOURCE)
        .expect("src/diff/known-divergences.toml is valid (checked by a test)")
        .divergence
}

impl Divergence {
    /// Does this command line start the divergence?
    pub fn starts_at(&self, line: &[u8]) -> bool {
        let text = String::from_utf8_lossy(line);
        text.split_ascii_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case(&self.verb))
    }
}
