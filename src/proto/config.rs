//! How the sessions' configuration structs are declared: once, as plain data owned here.
//! `config!` writes the struct and a macro that hands its field list to another macro, so the
//! scenario format can build its all-optional override sections from the same list without
//! this module knowing the format exists.

/// Declares a plain config struct `$name` (at `$path`) and the macro `$fields!`, which calls
/// `callback! { $path { fields } rest }` for `$fields! { callback { rest } }`. The leading `$`
/// token is passed in so the inner macro can have metavariables of its own.
macro_rules! config {
    (
        $d:tt
        $(#[$meta:meta])*
        pub struct $name:ident at $path:path, fields: $fields:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        #[allow(unused_macros)]
        macro_rules! $fields {
            ($d callback:ident { $d ($d rest:tt)* }) => {
                $d callback! { $path { $( $(#[$fmeta])* pub $field : $ty, )* } $d ($d rest)* }
            };
        }
    };
}
