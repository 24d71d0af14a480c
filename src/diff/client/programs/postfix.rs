//! Postfix's smtp client and queue manager, in a private instance ([`postfix_instance`]):
//! the message is submitted with its `sendmail -C CONFIG -f FROM TO...`; each delivery
//! attempt's per-recipient decisions (`status=sent|deferred|bounced`) are read from the
//! instance's mail log; a deferral is retried at once with `postqueue -i QUEUE_ID` (the
//! decision to retry is compared, not its time), up to [`ATTEMPTS`] attempts. Outcome:
//! every recipient sent delivered; any bounced bounced; any still deferred deferred. The
//! bounce Postfix sends back through the live server (`MAIL FROM:<>`) is waited for and
//! left out of the comparison. One behaviour at a time (one queue).

use super::postfix_instance::{Instance, TIMEOUT};
use super::{About, Outcome, Program, Send};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Delivery attempts at most (the first and forced retries).
pub const ATTEMPTS: usize = 3;
/// How long one attempt may take to decide every recipient.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(40);

const ABOUT: About = About {
    name: "postfix",
    profile: "postfix-queue",
    default_path: "/usr/sbin/postfix",
    install: "install it with `apt-get install postfix` (its smtp client and qmgr run in a private instance; the system's Postfix is left alone)",
};

/// The instance of this run.
static INSTANCE: Mutex<Option<Instance>> = Mutex::new(None);

/// The adapter.
pub struct Postfix;

impl Program for Postfix {
    fn about(&self) -> &'static About {
        &ABOUT
    }
    fn version(&self, path: &Path) -> String {
        let out = Command::new(sbin(path).join("postconf"))
            .args(["-d", "-h", "mail_version"])
            .output();
        let v = out
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        format!(
            "postfix {}",
            if v.is_empty() {
                "(version unknown)"
            } else {
                &v
            }
        )
    }
    fn timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    fn parallel(&self) -> bool {
        false
    }
    fn fixed_port(&self) -> bool {
        true
    }
    fn finish(&self, path: &Path) {
        if let Some(instance) = INSTANCE.lock().expect("instance").take() {
            instance.stop(&sbin(path));
        }
    }
    fn send(&self, path: &Path, msg: &Send) -> Result<Outcome, String> {
        let sbin = sbin(path);
        let mut guard = INSTANCE.lock().expect("instance");
        if guard.as_ref().is_some_and(|i| i.port != msg.port) {
            if let Some(old) = guard.take() {
                old.stop(&sbin);
            }
        }
        if guard.is_none() {
            *guard = Some(Instance::start(&sbin, msg.port)?);
        }
        let result = deliver(guard.as_ref().expect("started"), &sbin, msg);
        if result.is_err() {
            // Whatever went wrong, the next behaviour gets a fresh instance.
            if let Some(instance) = guard.take() {
                instance.stop(&sbin);
            }
        }
        result
    }
}

/// Submits `msg` to `instance` and follows its delivery attempts.
fn deliver(instance: &Instance, sbin: &Path, msg: &Send) -> Result<Outcome, String> {
    // What an earlier behaviour left queued goes; a flush forgets dead destinations.
    instance.command(sbin, "postsuper", &["-d", "ALL"])?;
    instance.command(sbin, "postqueue", &["-f"])?;
    let mut log = Log::at_end(instance.log());
    let mut submit = Command::new(sbin.join("sendmail"));
    submit
        .arg("-C")
        .arg(instance.config())
        .arg("-f")
        .arg(msg.from)
        .args(msg.to);
    let (status, printed) = super::run(submit, msg.body.as_bytes())?;
    if !status.success() {
        return Err(format!("postfix sendmail: {status}: {printed}"));
    }
    let mut pending: Vec<String> = msg.to.to_vec();
    let mut bounced = false;
    let mut queue_id = None;
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            let id = queue_id
                .as_deref()
                .ok_or("postfix: no queue id in its log")?;
            // A retry request for a message qmgr still holds active is lost: wait until it
            // has been put back in the deferred queue.
            wait_until_deferred(instance, sbin, id)?;
            instance.command(sbin, "postqueue", &["-i", id])?;
        }
        let decided = log.attempt(&mut queue_id, pending.len())?;
        pending.clear();
        for (rcpt, status) in decided {
            match status.as_str() {
                "deferred" => pending.push(rcpt),
                "bounced" => bounced = true,
                _ => {}
            }
        }
        if pending.is_empty() {
            break;
        }
    }
    wait_for_notifications(instance, sbin, queue_id.as_deref(), !pending.is_empty())?;
    Ok(if bounced {
        Outcome::Bounced
    } else if !pending.is_empty() {
        Outcome::Deferred
    } else {
        Outcome::Delivered
    })
}

/// The directory of `postfix` (where sendmail, postqueue, postsuper and postconf are).
fn sbin(path: &Path) -> PathBuf {
    path.parent()
        .map_or_else(|| PathBuf::from("/usr/sbin"), Path::to_path_buf)
}

/// Waits until `postqueue -j` shows message `id` in the deferred queue.
fn wait_until_deferred(instance: &Instance, sbin: &Path, id: &str) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < ATTEMPT_LIMIT {
        let queue = instance.command(sbin, "postqueue", &["-j"])?;
        let deferred = queue.lines().any(|l| {
            l.contains(&format!("\"queue_id\": \"{id}\""))
                && l.contains("\"queue_name\": \"deferred\"")
        });
        if deferred {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("postfix: {id} did not reach the deferred queue"))
}

/// Waits until the queue holds nothing but the message itself (when `still_queued`): the
/// bounce or delay notice it sent is through.
fn wait_for_notifications(
    instance: &Instance,
    sbin: &Path,
    queue_id: Option<&str>,
    still_queued: bool,
) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < ATTEMPT_LIMIT {
        let queue = instance.command(sbin, "postqueue", &["-j"])?;
        let others = queue
            .lines()
            .filter(|l| !queue_id.is_some_and(|id| still_queued && l.contains(id)))
            .count();
        if others == 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("postfix: its queue did not empty (a notification stuck?)".into())
}

/// The instance's mail log, read from where a behaviour started.
struct Log {
    path: PathBuf,
    offset: usize,
}

impl Log {
    fn at_end(path: PathBuf) -> Log {
        let offset = std::fs::metadata(&path).map_or(0, |m| m.len() as usize);
        Log { path, offset }
    }

    /// The next `count` per-recipient decisions for the message (its queue id found in the
    /// pickup line the first time): `(recipient, sent|deferred|bounced)`.
    fn attempt(
        &mut self,
        queue_id: &mut Option<String>,
        count: usize,
    ) -> Result<Vec<(String, String)>, String> {
        let started = Instant::now();
        let mut decided = Vec::new();
        while started.elapsed() < ATTEMPT_LIMIT {
            let text = std::fs::read(&self.path).unwrap_or_default();
            let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let fresh = String::from_utf8_lossy(&text[self.offset.min(end)..end]).into_owned();
            self.offset = end.max(self.offset);
            for line in fresh.lines() {
                if queue_id.is_none() && line.contains("postfix/pickup[") {
                    *queue_id = line
                        .split(": ")
                        .nth(1)
                        .map(|id| id.trim().to_string())
                        .filter(|id| !id.is_empty());
                }
                let Some(id) = queue_id.as_deref() else {
                    continue;
                };
                if !line.contains(&format!(" {id}: to=<")) {
                    continue;
                }
                let rcpt = between(line, "to=<", ">");
                let status = between(line, "status=", " ");
                if let (Some(rcpt), Some(status)) = (rcpt, status) {
                    decided.push((rcpt.to_string(), status.to_string()));
                }
            }
            if decided.len() >= count {
                return Ok(decided);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(&self.path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(6).collect();
        Err(format!(
            "postfix: {} of {count} recipients decided within {ATTEMPT_LIMIT:?}; its log ends: {}",
            decided.len(),
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ))
    }
}

/// The text between `start` and the next `end` in `line`.
fn between<'a>(line: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = line.find(start)? + start.len();
    let rest = &line[from..];
    Some(&rest[..rest.find(end).unwrap_or(rest.len())])
}
