//! The known differences between a real program and its client profile, each with its
//! reason (`known-client-divergences.toml` beside this file). A difference whose kind starts
//! with a listed `kind`, for that program, is counted as known.

use serde::Deserialize;

/// One known difference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// A short name.
    pub id: String,
    /// The program (`--client NAME`).
    pub program: String,
    /// The start of the difference's kind, e.g. `outcome: real failed-and-told / profile deferred`.
    pub kind: String,
    /// Why the profile differs here.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    divergence: Vec<Divergence>,
}

/// The file, as built into the binary.
pub const SOURCE: &str = include_str!("known-client-divergences.toml");

/// Every known difference.
pub fn all() -> Vec<Divergence> {
    parse(SOURCE, "src/diff/client/known-client-divergences.toml")
}

/// The divergences of a known-divergences file (`file` names it; a test reads each).
pub fn parse(source: &str, file: &str) -> Vec<Divergence> {
    toml::from_str::<File>(source)
        .unwrap_or_else(|e| panic!("{file} is valid (checked by a test): {e}"))
        .divergence
}

/// The known difference `kind` is, for `program`.
pub fn find(program: &str, kind: &str) -> Option<Divergence> {
    find_in(&all(), program, kind)
}

/// The divergence of `all` that `kind` is, for `program`.
pub fn find_in(all: &[Divergence], program: &str, kind: &str) -> Option<Divergence> {
    all.iter()
        .find(|d| d.program == program && kind.starts_with(&d.kind))
        .cloned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_file_reads() {
        let all = super::all();
        let programs: Vec<&str> = super::super::programs::all()
            .iter()
            .map(|p| p.name())
            .collect();
        for d in &all {
            assert!(
                programs.contains(&d.program.as_str()),
                "{}: unknown program {}",
                d.id,
                d.program
            );
            assert!(!d.reason.trim().is_empty(), "{}: no reason", d.id);
        }
    }
}
