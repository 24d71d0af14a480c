//! SMTP as pure state machines: no IO, no tokio, no clock reads, no RNG. Time comes in as a
//! [`Duration`](std::time::Duration) offset chosen by the caller; outputs are polled.
//!
//! - [`line`]: CRLF framing with hard limits;
//! - [`command`]: commands and MAIL/RCPT paths;
//! - [`reply`]: replies and the multi-line reply parser;
//! - [`data`]: dot-stuffing and end-of-data detection;
//! - [`server`]: a server session driven by a [`crate::profile::ServerConfig`];
//! - [`client`]: a client session driven by a [`crate::profile::ClientConfig`];
//! - [`interceptor`]: a middlebox's two half-sessions and its rules.

pub mod client;
pub mod command;
pub mod data;
pub mod interceptor;
pub mod line;
pub mod reply;
pub mod script;
pub mod server;

pub use command::{Command, Path, Verb};
pub use reply::{EnhancedCode, Reply, ReplyParser};

/// Virtual or real time as an offset from an origin the driver picks.
pub type Time = std::time::Duration;
