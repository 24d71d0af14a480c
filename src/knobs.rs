//! Presets and their overrides. A preset is a full config; a scenario section (or a `--set`)
//! names one and may override any knob of it. `section!` builds such a section from a config's
//! field list (the sessions' configs hand theirs over with `server_config_fields!` and the
//! like); `knobs!` declares a config and its section together, for configs that are not the
//! sessions' own (fault presets); [`unknown_preset`] words the error for a name that is not one.

/// A scenario section for `$config`: the preset to start from, every knob as an `Option`, and
/// the section's own extra fields. Naming every field of `$config` is checked: a knob added to
/// the config and missing here does not compile.
macro_rules! section {
    (
        $config:path { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )* }
        $(#[$meta:meta])*
        pub struct $over:ident
        extra { $( $(#[$xmeta:meta])* pub $xfield:ident : $xty:ty, )* }
    ) => {
        $(#[$meta])*
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
            /// Every knob of the section, as declared (name, type, doc comment).
            pub const KNOBS: &'static [crate::knobs::Knob] = &[
                $( crate::knobs::Knob {
                    name: stringify!($field),
                    ty: stringify!($ty),
                    attrs: stringify!($(#[$fmeta])*),
                    choices: || crate::knobs::choices::<$ty>(),
                }, )*
            ];

            /// Writes every knob this section sets into `base`.
            pub fn apply(&self, base: &mut $config) {
                $( if let Some(v) = &self.$field { base.$field = v.clone(); } )*
            }

            /// The knobs this section sets, in declaration order.
            pub fn set_knobs(&self) -> Vec<&'static str> {
                let mut set = Vec::new();
                $( if self.$field.is_some() { set.push(stringify!($field)); } )*
                set
            }
        }

        const _: fn(&$config) = |config| {
            let $config { $( $field: _, )* } = config;
        };
    };
}

/// Declares a config struct and its section together (see `section!`).
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

        section! {
            $name { $( $(#[$fmeta])* pub $field : $ty, )* }
            #[doc = concat!("A scenario section: a preset name, any [`", stringify!($name), "`] knob to override, and more.")]
            pub struct $over
            extra { $( $(#[$xmeta])* pub $xfield : $xty, )* }
        }
    };
}

/// One knob of a config, as its declaration wrote it: the one source for rustdoc, `smtpsim list
/// PRESET` and the errors that name it.
#[derive(Debug, Clone, Copy)]
pub struct Knob {
    /// Its name in a scenario section and in `--set`.
    pub name: &'static str,
    /// Its Rust type, as written.
    pub ty: &'static str,
    /// Its attributes, as written (the doc comment is among them).
    pub attrs: &'static str,
    /// For a type that takes one of a few words, those words (`one of `a`, `b``).
    pub choices: fn() -> Option<String>,
}

impl Knob {
    /// The doc comment, on one line.
    pub fn doc(&self) -> String {
        let mut lines = Vec::new();
        let mut rest = self.attrs;
        while let Some(start) = rest.find("doc") {
            rest = rest[start + 3..].trim_start();
            let Some(after) = rest.strip_prefix('=') else {
                continue;
            };
            let (text, after) = string_literal(after.trim_start());
            lines.push(text.trim().to_string());
            rest = after;
        }
        lines.join(" ")
    }

    /// What a value must look like, with an example: `a duration such as "30s"`.
    pub fn form(&self) -> String {
        let ty = self.ty.replace(' ', "");
        match ty.rsplit("::").next().unwrap_or(&ty) {
            "Dur" => "a duration such as \"30s\" (units ms, s, m, h, d, w)".into(),
            "Vec<String>" => "a list such as [\"example.org\"]".into(),
            "bool" => "true or false".into(),
            "u32" | "u64" | "usize" => "a whole number such as 10".into(),
            "f64" => "a number such as 0.05".into(),
            "String" => "a string (in quotes in a scenario)".into(),
            _ => match (self.choices)() {
                Some(words) => words,
                None => format!("a {}", self.ty),
            },
        }
    }
}

/// A Rust string literal at the start of `text` (plain with escapes, or raw `r#"..."#`) as
/// `stringify!` writes a doc attribute: its value, and the text after it.
fn string_literal(text: &str) -> (String, &str) {
    if let Some(raw) = text.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let body = &raw[hashes + 1..];
        let close = format!("\"{}", "#".repeat(hashes));
        return match body.find(&close) {
            Some(end) => (body[..end].to_string(), &body[end + close.len()..]),
            None => (body.to_string(), ""),
        };
    }
    let body = text.strip_prefix('"').unwrap_or(text);
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, other)) => value.push(other),
                None => {}
            },
            '"' => return (value, &body[i + 1..]),
            c => value.push(c),
        }
    }
    (value, "")
}

/// `one of `a`, `b`` for a type deserialized from one of a few words, read off the error for
/// a word that is none of them.
pub fn choices<T: serde::de::DeserializeOwned>() -> Option<String> {
    let err = toml::Value::String("\u{0}".into()).try_into::<T>().err()?;
    let text = err.to_string();
    let (_, expected) = text.split_once("expected ")?;
    let words: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    (!words.is_empty()).then(|| format!("one of `{}`", words.join("`, `")))
}

/// The knob a type error in `text` (a scenario, or the `--set` lines) is about, found from the
/// error's position: the key of that line, and the section header above it (if any).
pub fn knob_at(text: &str, offset: usize) -> Option<(Option<String>, String)> {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let key = line.split_once('=')?.0.trim().trim_matches('"').to_string();
    let header = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some((header, key))
}

/// A type error worded with the knob's name and form: `scan_delay: a duration such as "30s"
/// (units ms, s, m, h, d, w); found integer `10``. `None` if `key` is not one of `knobs`.
pub fn type_error(knobs: &[Knob], key: &str, serde_message: &str) -> Option<String> {
    let knob = knobs.iter().find(|k| k.name == key)?;
    let found = serde_message
        .strip_prefix("invalid type: ")
        .and_then(|m| m.split_once(", expected"))
        .map(|(found, _)| format!("; found {found}"))
        .unwrap_or_else(|| format!(" ({serde_message})"));
    Some(format!("{key}: {}{found}", knob.form()))
}

/// The error for an unknown preset name, listing the known ones.
pub fn unknown_preset(kind: &str, name: &str, known: &[(&str, &str)]) -> String {
    let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
    format!(
        "unknown {kind} profile {name:?}; known: {}",
        names.join(", ")
    )
}
