//! SMTP as pure state machines: no IO, no tokio, no clock reads, no RNG. Time comes in as a
//! [`Duration`](std::time::Duration) offset chosen by the caller; outputs are polled.
//!
//! - [`line`](mod@line): CRLF framing with hard limits;
//! - [`command`]: commands and MAIL/RCPT paths;
//! - [`reply`]: replies and the multi-line reply parser;
//! - [`data`]: dot-stuffing and end-of-data detection;
//! - [`date`]: calendar arithmetic for log stamps and mail headers;
//! - [`envelope`]: MAIL, RCPT and VRFY arguments read as Postfix reads them;
//! - [`server`]: a server session driven by a [`server::ServerConfig`];
//! - [`client`]: a client session driven by a [`client::ClientConfig`];
//! - [`stamp`]: the headers a client adds to the content before sending it;
//! - [`interceptor`]: a middlebox's two half-sessions and its rules;
//! - [`script`]: a recorded client session replayed;
//! - [`maillog`]: what a Postfix smtpd logs about a session, as data;
//! - [`dur`]: durations as scenario files write them;
//! - [`outbox`]: the timed events every session queues for its driver;
//! - `config`: how the configuration structs are declared (plain data, owned here).
//!
//! Nothing here imports anything of the crate outside `proto`.

#[macro_use]
mod config;
#[macro_use]
pub mod client;
pub mod command;
pub mod data;
pub mod date;
pub mod dur;
pub mod envelope;
#[macro_use]
pub mod interceptor;
pub mod line;
pub mod maillog;
pub mod outbox;
pub mod reply;
pub mod script;
pub mod stamp;
#[macro_use]
pub mod server;

pub use command::{Command, Path, Verb};
pub use reply::{EnhancedCode, Reply, ReplyParser};

/// Virtual or real time as an offset from an origin the driver picks.
pub type Time = std::time::Duration;
