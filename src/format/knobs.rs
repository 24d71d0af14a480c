//! `smtpsim list PRESET`: every knob of a preset with its meaning (the config's doc comment,
//! the same text rustdoc shows), its form with an example, and the preset's value.

pub use crate::knobs::Knob;
use crate::scenario::{section_knobs, ClientSection, InterceptorSection, ServerSection};
use std::fmt::Write;

/// The knob reference of every preset called `name` (a server and a client may share a name),
/// or an error listing the presets.
pub fn render(name: &str) -> Result<String, String> {
    let mut out = String::new();
    for (kind, preset, about) in crate::profile::catalogue() {
        if preset != name {
            continue;
        }
        let (section, values) = match kind {
            "server" => (
                "server",
                values(&crate::profile::ServerConfig::preset(name)?),
            ),
            "client" => (
                "client",
                values(&crate::profile::ClientConfig::preset(name)?),
            ),
            "interceptor" => (
                "interceptor",
                values(&crate::profile::InterceptorConfig::preset(name)?),
            ),
            _ => ("faults", values(&crate::fault::FaultConfig::preset(name)?)),
        };
        let knobs = section_knobs(section).unwrap_or(&[]);
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "{kind} {name}: {about}");
        let _ = writeln!(
            out,
            "{} knobs: set them in a scenario's [{section}] table, or with --set KNOB=VALUE \
             (serve, proxy, diff). The value shown is this preset's.",
            knobs.len()
        );
        for knob in knobs {
            out.push('\n');
            render_knob(&mut out, knob, values.get(knob.name));
        }
    }
    if out.is_empty() {
        let mut names: Vec<&str> = crate::profile::catalogue()
            .into_iter()
            .map(|(_, n, _)| n)
            .collect();
        names.sort_unstable();
        names.dedup();
        return Err(format!(
            "no preset called {name:?}; presets: {}",
            names.join(", ")
        ));
    }
    Ok(out)
}

fn render_knob(out: &mut String, knob: &Knob, value: Option<&toml::Value>) {
    let value = value.map_or_else(|| "(none)".to_string(), |v| v.to_string());
    let _ = writeln!(out, "  {} = {value}", knob.name);
    let _ = writeln!(out, "      {}", knob.doc());
    let _ = writeln!(out, "      type: {}", knob.form());
}

/// A config's knobs as TOML values, by name.
fn values<T: serde::Serialize>(config: &T) -> toml::Table {
    match toml::Value::try_from(config) {
        Ok(toml::Value::Table(table)) => table,
        _ => toml::Table::new(),
    }
}

/// The sections' knob tables, for tests and docs: every knob of every section.
pub fn every_knob() -> impl Iterator<Item = (&'static str, &'static Knob)> {
    [
        ("client", ClientSection::KNOBS),
        ("interceptor", InterceptorSection::KNOBS),
        ("server", ServerSection::KNOBS),
        ("faults", crate::fault::FaultSection::KNOBS),
    ]
    .into_iter()
    .flat_map(|(section, knobs)| knobs.iter().map(move |k| (section, k)))
}
