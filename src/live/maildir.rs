//! A Maildir store for live mode: content is streamed into `tmp/` as it arrives and renamed
//! into `new/` only when the server accepts the message, so `new/` never holds half a message
//! (a crash, a dropped connection or a refused message leaves nothing there).
//!
//! Crash safety: the file is fsynced before the rename and `new/` after it, before the 250 goes
//! out. A process killed mid-message leaves its partial file in `tmp/`; the next start removes
//! what no running writer can still own (see [`Maildir::remove_stale`]).

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

/// The Maildir convention's age after which any file in `tmp/` is abandoned (qmail's 36 hours).
pub const TMP_MAX_AGE: Duration = Duration::from_secs(36 * 3600);

/// Bytes gathered per write into a message file (a session's read buffer is as large): every
/// session receiving a message holds one.
const WRITE_BUFFER: usize = 16 * 1024;

/// Our files in `tmp/`: `<secs>.P<pid>Q<n>.smtpsim`.
const SUFFIX: &str = ".smtpsim";

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

    /// Removes the partial messages in `tmp/` that no running writer can own: ours (named
    /// `….P<pid>Q<n>.smtpsim`) whose process is gone (no `/proc/<pid>`, or the pid is this
    /// process's own, which has written nothing yet), and any file, ours or another program's,
    /// untouched for [`TMP_MAX_AGE`] (the Maildir convention). Returns the names removed.
    /// Call once at start, before serving.
    pub fn remove_stale(&self) -> io::Result<Vec<String>> {
        let own_pid = std::process::id();
        let proc_fs = Path::new("/proc/self").exists();
        let mut removed = Vec::new();
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let writer_gone = writer_pid(&name).is_some_and(|pid| {
                pid == own_pid || (proc_fs && !Path::new(&format!("/proc/{pid}")).exists())
            });
            let abandoned = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age >= TMP_MAX_AGE);
            if writer_gone || abandoned {
                fs::remove_file(entry.path())?;
                removed.push(name);
            }
        }
        removed.sort();
        Ok(removed)
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
        format!("{}Q{n}{SUFFIX}", self.prefix)
    }
}

/// Runs `f`, which waits for the disk (fsync). On a multi-threaded runtime the thread's other
/// sessions move to another thread meanwhile, so that the fsyncs of many sessions overlap and
/// the file system commits them together, as it does for Postfix's many processes.
fn on_the_disk<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The writer's pid in one of our `tmp/` file names, `None` for anybody else's file.
fn writer_pid(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (_, rest) = stem.split_once(".P")?;
    let (pid, n) = rest.split_once('Q')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
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
            let opened = File::create(&path).map(|f| {
                (
                    path.clone(),
                    BufWriter::with_capacity(WRITE_BUFFER, f),
                    Ok(()),
                )
            });
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
            let new = self.maildir.root.join("new");
            fs::rename(&tmp, new.join(name))?;
            // The rename itself is durable only once the directory is.
            File::open(&new)?.sync_all()
        };
        on_the_disk(finish).map_err(|e| {
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
