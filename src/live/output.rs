//! The live transcript's way to stdout: rows gathered in a buffer and written in one go (when
//! the buffer fills, [`FLUSH_DELAY`] after the first row waiting, and at shutdown), so printing
//! costs a write per batch rather than per line; nothing is formatted when stdout is /dev/null.

use crate::format::{LiveFormat, Render};
use crate::transcript::{Event, Transcript};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest a row waits before it is written (unless the buffer fills first).
pub const FLUSH_DELAY: Duration = Duration::from_millis(20);

/// Buffered bytes that are written at once, without waiting for the delay.
const FLUSH_SIZE: usize = 64 * 1024;

/// Events printed on stdout as they happen, in batches. Cheap to clone.
#[derive(Clone)]
pub struct Output {
    shared: Arc<Shared>,
}

struct Shared {
    /// None when stdout is /dev/null: nobody reads the rows, so none are made.
    state: Option<Mutex<State>>,
    /// Rows are waiting (told once per batch, when the buffer stops being empty).
    waiting: Notify,
}

struct State {
    render: Render,
    buf: String,
}

impl State {
    fn write_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        // A reader that went away (a closed pipe) does not stop the server.
        let mut out = io::stdout().lock();
        let _ = out.write_all(self.buf.as_bytes());
        let _ = out.flush();
        self.buf.clear();
    }
}

impl Output {
    /// Events rendered in `format` on this process's stdout.
    pub fn stdout(format: LiveFormat) -> Output {
        let state = (!stdout_is_dev_null()).then(|| {
            Mutex::new(State {
                render: format.renderer(),
                buf: String::new(),
            })
        });
        Output {
            shared: Arc::new(Shared {
                state,
                waiting: Notify::new(),
            }),
        }
    }

    /// The live log, rendering each event into the buffer (one nobody hears for /dev/null).
    pub fn transcript(&self) -> Transcript {
        if self.shared.state.is_none() {
            return Transcript::unheard();
        }
        let shared = self.shared.clone();
        Transcript::streaming(Box::new(move |event: &Event| {
            let Some(state) = &shared.state else {
                return;
            };
            let mut state = state.lock().expect("output lock");
            let was_empty = state.buf.is_empty();
            let State { render, buf } = &mut *state;
            render(event, buf);
            if state.buf.len() >= FLUSH_SIZE {
                state.write_out();
            } else if was_empty && !state.buf.is_empty() {
                shared.waiting.notify_one();
            }
        }))
    }

    /// Writes what is buffered now.
    pub fn flush(&self) {
        if let Some(state) = &self.shared.state {
            state.lock().expect("output lock").write_out();
        }
    }

    /// Writes each batch [`FLUSH_DELAY`] after its first row; runs until dropped.
    pub async fn keep_flushing(self) {
        loop {
            self.shared.waiting.notified().await;
            tokio::time::sleep(FLUSH_DELAY).await;
            self.flush();
        }
    }
}

/// True when stdout is the null device (e.g. `>/dev/null`).
#[cfg(unix)]
fn stdout_is_dev_null() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    match (
        std::fs::File::from(fd).metadata(),
        std::fs::metadata("/dev/null"),
    ) {
        (Ok(out), Ok(null)) => out.file_type().is_char_device() && out.rdev() == null.rdev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn stdout_is_dev_null() -> bool {
    false
}
