//! Presets for servers, clients and interceptors: named, complete configs of the sessions in
//! [`crate::proto`]. A scenario names a preset and may override any knob (its sections are
//! in [`crate::scenario`]). New behaviour is a new preset, not code.

pub mod client;
pub mod interceptor;
pub mod rules;
pub mod server;

pub use crate::proto::client::ClientConfig;
pub use crate::proto::interceptor::InterceptorConfig;
pub use crate::proto::server::ServerConfig;

pub use crate::proto::dur::Dur;

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
