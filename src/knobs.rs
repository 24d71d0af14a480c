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
            /// Writes every knob this section sets into `base`.
            pub fn apply(&self, base: &mut $config) {
                $( if let Some(v) = &self.$field { base.$field = v.clone(); } )*
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

/// The error for an unknown preset name, listing the known ones.
pub fn unknown_preset(kind: &str, name: &str, known: &[(&str, &str)]) -> String {
    let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
    format!(
        "unknown {kind} profile {name:?}; known: {}",
        names.join(", ")
    )
}
