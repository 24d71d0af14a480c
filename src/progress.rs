//! What a sweep prints while it runs, on stderr: a progress bar on a terminal, else a progress
//! line at a steady interval; each failing seed once as it is found (up to a cap, then a
//! count); the count of failures that stops it; Ctrl-C.

use crate::sweep::Progress;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Failing seeds printed as they are found; the rest are counted.
pub const SHOWN_FAILURES: usize = 20;

/// Watches a sweep. Nothing it prints goes into the sweep's reports.
pub struct Watcher {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    max_fail: Option<usize>,
    stop: Arc<AtomicBool>,
    ran: Mutex<Vec<u64>>,
    started: Instant,
    /// Set when the sweep is over; wakes the progress-line thread.
    over: Arc<(Mutex<bool>, Condvar)>,
}

impl Watcher {
    /// A watcher of `total` seeds that stops the sweep after `max_fail` failing seeds.
    pub fn new(total: usize, max_fail: Option<usize>) -> Watcher {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} seeds · {per_sec} · ETA {eta} · {msg}",
                )
                .expect("a valid template"),
            );
            bar.set_message("0 failed");
            bar
        });
        Watcher {
            bar,
            total,
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            max_fail,
            stop: Arc::default(),
            ran: Mutex::default(),
            started: Instant::now(),
            over: Arc::default(),
        }
    }

    /// Whether a progress bar is drawn (stderr is a terminal).
    pub fn has_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// The progress line: done/total, rate, failures so far. Only the rate depends on timing.
    pub fn line(&self) -> String {
        let done = self.done.load(Ordering::SeqCst);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        format!(
            "progress: {done}/{} seeds · {:.0} seeds/s · {} failed",
            self.total,
            done as f64 / secs,
            self.failed.load(Ordering::SeqCst)
        )
    }

    /// Prints [`Watcher::line`] on stderr every `interval` until [`Watcher::finish`]; run it on
    /// a thread of its own. Does nothing with a progress bar or a zero interval.
    pub fn print_lines(&self, interval: Duration) {
        if self.has_bar() || interval.is_zero() {
            return;
        }
        let (lock, wake) = &*self.over;
        let mut over = lock.lock().expect("over");
        // Checked before each wait: a sweep may be over before this thread first runs.
        while !*over {
            let (guard, timeout) = wake.wait_timeout(over, interval).expect("over");
            over = guard;
            if timeout.timed_out() && !*over {
                eprintln!("{}", self.line());
            }
        }
    }

    /// A thread that turns Ctrl-C into a stop; true once it did.
    pub fn stop_on_ctrl_c(&self) -> Arc<AtomicBool> {
        let interrupted = Arc::new(AtomicBool::new(false));
        let (stop, seen) = (self.stop.clone(), interrupted.clone());
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
                seen.store(true, Ordering::SeqCst);
                stop.store(true, Ordering::SeqCst);
            }
        });
        interrupted
    }

    /// Sees a finished seed; answers whether the sweep goes on.
    pub fn seen(&self, p: &Progress<'_>) -> bool {
        self.ran.lock().expect("ran").push(p.seed);
        self.done.store(p.done, Ordering::SeqCst);
        let failed = if p.violations.is_empty() {
            self.failed.load(Ordering::SeqCst)
        } else {
            let n = self.failed.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= SHOWN_FAILURES {
                let v = &p.violations[0];
                self.println(format!(
                    "FAIL seed {}: {}: {}\n  replay: {}",
                    v.seed, v.invariant, v.detail, v.replay
                ));
            }
            if n == SHOWN_FAILURES + 1 {
                self.println(format!(
                    "more than {SHOWN_FAILURES} failing seeds: the rest are counted, not printed \
                     (every one is in --json, --junit and --report)"
                ));
            }
            n
        };
        if let Some(bar) = &self.bar {
            bar.set_position(p.done as u64);
            bar.set_message(format!("{failed} failed"));
        }
        let enough = self.max_fail.is_some_and(|m| failed >= m);
        !enough && !self.stop.load(Ordering::SeqCst)
    }

    fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Failing seeds so far.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    /// The seeds that ran, in order.
    pub fn ran(&self) -> Vec<u64> {
        let mut ran = self.ran.lock().expect("ran").clone();
        ran.sort_unstable();
        ran
    }

    /// The sweep is over: clears the bar, ends the progress lines.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let (lock, wake) = &*self.over;
        *lock.lock().expect("over") = true;
        wake.notify_all();
    }
}
