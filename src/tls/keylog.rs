//! The TLS secrets of a run as NSS key log lines (`LABEL <client_random hex> <secret hex>`), the
//! format Wireshark and tshark read with `-o tls.keylog_file:FILE` to decrypt a capture.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// A rustls key log that appends NSS key log lines to a shared list (one per run; clones share
/// it), in the order rustls derives the secrets.
#[derive(Debug, Clone, Default)]
pub struct KeyLogLines {
    lines: Arc<Mutex<Vec<String>>>,
}

impl KeyLogLines {
    /// An empty key log.
    pub fn new() -> KeyLogLines {
        KeyLogLines::default()
    }

    /// The lines logged so far, oldest first (without line ends).
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

impl rustls::KeyLog for KeyLogLines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut line =
            String::with_capacity(label.len() + 2 + 2 * (client_random.len() + secret.len()));
        line.push_str(label);
        line.push(' ');
        hex(&mut line, client_random);
        line.push(' ');
        hex(&mut line, secret);
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}
