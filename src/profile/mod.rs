//! Presets for servers, clients and interceptors. A preset is a full set of knobs; a
//! scenario names a preset and may override any knob. New behaviour is a new preset, not code.

pub mod client;
pub mod interceptor;
pub mod server;

pub use client::ClientConfig;
pub use interceptor::InterceptorConfig;
pub use server::ServerConfig;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A duration written as in scenario files: `"300s"`, `"1.5s"`, `"250ms"`, `"2m"`, `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

impl Dur {
    /// Whole seconds.
    pub const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }

    /// Milliseconds.
    pub const fn millis(ms: u64) -> Dur {
        Dur(Duration::from_millis(ms))
    }

    /// Parses `"<number><unit>"`, unit one of `ms`, `s`, `m`, `h`, `d`, `w` (Postfix's units).
    pub fn parse(text: &str) -> Result<Dur, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: expected e.g. \"10s\""))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            other => {
                return Err(format!(
                    "invalid duration unit {other:?} in {text:?}: use ms, s, m, h, d or w"
                ))
            }
        };
        let secs = value * scale;
        if !secs.is_finite() || !(0.0..=1.0e9).contains(&secs) {
            return Err(format!("duration {text:?} out of range"));
        }
        Ok(Dur(Duration::from_micros((secs * 1e6).round() as u64)))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl From<Dur> for Duration {
    fn from(d: Dur) -> Duration {
        d.0
    }
}

/// Declares a config struct and its all-optional overrides twin (what a scenario section
/// holds), so that every knob is overridable without writing it twice.
macro_rules! knobs {
    (
        $(#[$meta:meta])*
        pub struct $name:ident / $over:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
        extra { $( $(#[$xmeta:meta])* pub $xfield:ident : $xty:ty, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        #[doc = concat!("A scenario section: a preset name, any [`", stringify!($name), "`] knob to override, and more.")]
        #[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $over {
            /// The preset to start from.
            #[serde(default)]
            pub profile: Option<toml::Spanned<String>>,
            $( $(#[$fmeta])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>, )*
            $( $(#[$xmeta])* #[serde(default)] pub $xfield: $xty, )*
        }

        impl $over {
            /// Writes every knob this section sets into `base`.
            pub fn apply(&self, base: &mut $name) {
                $( if let Some(v) = &self.$field { base.$field = v.clone(); } )*
            }
        }
    };
}
pub(crate) use knobs;

/// One line per preset, for `smtpsim list`.
pub fn catalogue() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut rows = Vec::new();
    for (name, about) in server::PRESETS {
        rows.push(("server", *name, *about));
    }
    for (name, about) in client::PRESETS {
        rows.push(("client", *name, *about));
    }
    for (name, about) in interceptor::PRESETS {
        rows.push(("interceptor", *name, *about));
    }
    for (name, about) in crate::fault::PRESETS {
        rows.push(("faults", *name, *about));
    }
    rows
}

/// The error for an unknown preset name, listing the known ones.
pub fn unknown_preset(kind: &str, name: &str, known: &[(&str, &str)]) -> String {
    let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
    format!(
        "unknown {kind} profile {name:?}; known: {}",
        names.join(", ")
    )
}
