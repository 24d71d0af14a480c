//! Postfix's smtp client and queue manager (placeholder; the instance is set up below).

use super::{About, Outcome, Program, Send};
use std::path::Path;
use std::time::Duration;

const ABOUT: About = About {
    name: "postfix",
    profile: "postfix-queue",
    default_path: "/usr/sbin/postfix",
    install: "install it with `apt-get install postfix`",
};

/// The adapter.
pub struct Postfix;

impl Program for Postfix {
    fn about(&self) -> &'static About {
        &ABOUT
    }
    fn version(&self, _path: &Path) -> String {
        "postfix".into()
    }
    fn timeout(&self) -> Option<Duration> {
        None
    }
    fn parallel(&self) -> bool {
        false
    }
    fn send(&self, _path: &Path, _msg: &Send) -> Result<Outcome, String> {
        Err("postfix: not yet".into())
    }
}
