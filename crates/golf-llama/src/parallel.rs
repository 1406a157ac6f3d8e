//! Helper threads that split each matrix's rows with the calling thread (natively).
//!
//! A decode step runs 121 matrix products of 5-100 µs each. A pool whose workers sleep between them (rayon's)
//! pays a futex wake-up per product, which ate the second core's gain (2 threads were no faster than 1). Here
//! the helpers spin between products and only sleep after a while without work, so a step's products reach
//! them in well under a microsecond, and an idle golfer costs no CPU (while ONNX Runtime scores, say).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Spins before a helper sleeps (about a millisecond).
const SPINS: u32 = 200_000;

type Job = dyn Fn(usize) + Sync;

struct Shared {
    /// Bumped for every job; a helper runs the job when it sees a new value.
    epoch: AtomicUsize,
    /// Helpers that finished the current job.
    done: AtomicUsize,
    /// The current job, lifetime erased: it is only read between `epoch`'s bump and `done` reaching the count,
    /// while `run` (which borrows it) waits.
    job: Mutex<Option<&'static Job>>,
    sleeping: AtomicUsize,
    stop: AtomicBool,
    wake: Condvar,
    lock: Mutex<()>,
}

pub(crate) struct Helpers {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

impl Helpers {
    /// `threads - 1` helpers (the caller is the first thread).
    pub(crate) fn new(threads: usize) -> Helpers {
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            job: Mutex::new(None),
            sleeping: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            wake: Condvar::new(),
            lock: Mutex::new(()),
        });
        let handles = (1..threads.max(1))
            .map(|id| {
                let shared = shared.clone();
                std::thread::spawn(move || helper(&shared, id))
            })
            .collect();
        Helpers { shared, handles }
    }

    pub(crate) fn threads(&self) -> usize {
        self.handles.len() + 1
    }

    /// Runs `f(t)` for every thread t, t = 0 on the caller; returns when all are done.
    pub(crate) fn run<'a>(&self, f: &'a (dyn Fn(usize) + Sync + 'a)) {
        let s = &self.shared;
        // SAFETY: the 'static reference is dropped from `job` before this function returns (below), and helpers
        // only call it between the epoch bump and their `done` increment, which this function waits for.
        let job: &'static Job = unsafe { std::mem::transmute::<&'a (dyn Fn(usize) + Sync + 'a), &'static Job>(f) };
        *s.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(job);
        s.done.store(0, SeqCst);
        s.epoch.fetch_add(1, SeqCst);
        if s.sleeping.load(SeqCst) > 0 {
            let _guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        f(0);
        while s.done.load(SeqCst) < self.handles.len() {
            std::hint::spin_loop();
        }
        *s.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

fn helper(s: &Shared, id: usize) {
    let mut seen = 0;
    loop {
        let mut spins = 0;
        while s.epoch.load(SeqCst) == seen && !s.stop.load(SeqCst) {
            spins += 1;
            if spins < SPINS {
                std::hint::spin_loop();
                continue;
            }
            let guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.sleeping.fetch_add(1, SeqCst);
            let _guard = s
                .wake
                .wait_while(guard, |_| s.epoch.load(SeqCst) == seen && !s.stop.load(SeqCst))
                .unwrap_or_else(|e| e.into_inner());
            s.sleeping.fetch_sub(1, SeqCst);
            spins = 0;
        }
        if s.stop.load(SeqCst) {
            return;
        }
        seen = s.epoch.load(SeqCst);
        let job = *s.job.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = job {
            job(id);
        }
        s.done.fetch_add(1, SeqCst);
    }
}

impl Drop for Helpers {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        {
            let _guard = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_runs_each_job_once_and_run_waits_for_them() {
        let helpers = Helpers::new(3);
        let counts: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
        for round in 1..=200 {
            helpers.run(&|t| {
                counts[t].fetch_add(1, SeqCst);
            });
            assert!(counts.iter().all(|c| c.load(SeqCst) == round));
            if round == 100 {
                // Long enough for the helpers to fall asleep: they must wake for the next job.
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}
