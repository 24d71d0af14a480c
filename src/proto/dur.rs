//! Durations as scenario files, knobs and notes write them: `"300s"`, `"1.5s"`, `"250ms"`,
//! `"2m"`, `"1h"`, `"5d"`. A leaf: everything above proto uses it, it uses nothing.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A duration written as in scenario files: `"300s"`, `"1.5s"`, `"250ms"`, `"2m"`, `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

impl Dur {
    /// As a clock reading with millisecond precision: `"11.141s"`, `"0.015s"`.
    pub fn clock(self) -> String {
        format!("{}.{:03}s", self.0.as_secs(), self.0.subsec_millis())
    }

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

/// Whole seconds as `"30s"`, whole milliseconds as `"250ms"`, anything finer as `"2.5ms"`:
/// always a form that [`Dur::parse`] reads back to the same value (to the microsecond, the
/// precision of scenario files).
impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.as_micros();
        if us % 1_000_000 == 0 {
            write!(f, "{}s", us / 1_000_000)
        } else if us % 1000 == 0 {
            write!(f, "{}ms", us / 1000)
        } else {
            let fraction = format!("{:03}", us % 1000);
            write!(f, "{}.{}ms", us / 1000, fraction.trim_end_matches('0'))
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
