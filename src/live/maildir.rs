//! A Maildir store for live mode: content is streamed into `tmp/` as it arrives and renamed
//! into `new/` only when the server accepts the message, so `new/` never holds half a message
//! (a crash, a dropped connection or a refused message leaves nothing there).

use crate::actor::server::ServerHooks;
use crate::proto::server::Delivery;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A Maildir (`tmp/`, `new/`, `cur/` under one root).
#[derive(Debug)]
pub struct Maildir {
    root: PathBuf,
    /// Unique per process: the `time.Ppid` part of file names.
    prefix: String,
    counter: AtomicU64,
}

impl Maildir {
    /// Opens (creating if needed) the Maildir at `root`.
    pub fn create(root: &Path) -> io::Result<Arc<Maildir>> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub))?;
        }
        // Live mode only: a real clock makes file names unique across runs.
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(Arc::new(Maildir {
            root: root.to_path_buf(),
            prefix: format!("{secs}.P{}", std::process::id()),
            counter: AtomicU64::new(0),
        }))
    }

    /// A writer for one connection.
    pub fn writer(self: &Arc<Self>) -> MaildirWriter {
        MaildirWriter {
            maildir: self.clone(),
            current: None,
        }
    }

    fn unique(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        format!("{}Q{n}.smtpsim", self.prefix)
    }
}

/// Streams one connection's messages into the Maildir.
#[derive(Debug)]
pub struct MaildirWriter {
    maildir: Arc<Maildir>,
    current: Option<(PathBuf, BufWriter<File>, io::Result<()>)>,
}

impl MaildirWriter {
    fn append(&mut self, bytes: &[u8]) {
        if self.current.is_none() {
            let path = self.maildir.root.join("tmp").join(self.maildir.unique());
            let opened = File::create(&path)
                .map(|f| (path.clone(), BufWriter::with_capacity(64 * 1024, f), Ok(())));
            self.current = Some(opened.unwrap_or_else(|e| {
                let sink = File::open("/dev/null").expect("/dev/null opens");
                (path, BufWriter::new(sink), Err(e))
            }));
        }
        let (_, file, status) = self.current.as_mut().expect("just opened");
        if status.is_ok() {
            if let Err(e) = file.write_all(bytes) {
                *status = Err(e);
            }
        }
    }
}

impl ServerHooks for MaildirWriter {
    fn content(&mut self, bytes: &[u8]) {
        self.append(bytes);
    }

    fn discard(&mut self) {
        if let Some((path, _, _)) = self.current.take() {
            let _ = fs::remove_file(path);
        }
    }

    fn deliver(&mut self, delivery: &Delivery) -> Result<(), String> {
        if !delivery.body.is_empty() || self.current.is_none() {
            self.append(&delivery.body);
        }
        let (tmp, file, status) = self.current.take().expect("content was written");
        let finish = || -> io::Result<()> {
            status?;
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            let name = format!("{}.{}", self.maildir.unique(), delivery.queue_id);
            fs::rename(&tmp, self.maildir.root.join("new").join(name))
        };
        finish().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            e.to_string()
        })
    }

    fn crash(&mut self, _restart_after: Duration) -> bool {
        false
    }
}

impl Drop for MaildirWriter {
    /// A connection that ends mid-message leaves nothing behind.
    fn drop(&mut self) {
        self.discard();
    }
}

/// Keeps nothing (serve without `--maildir`); counts nothing either: the transcript shows
/// every delivery.
#[derive(Debug, Default)]
pub struct Discard;

impl ServerHooks for Discard {
    fn deliver(&mut self, _delivery: &Delivery) -> Result<(), String> {
        Ok(())
    }

    fn crash(&mut self, _restart_after: Duration) -> bool {
        false
    }
}
