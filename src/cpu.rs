//! The pool that does a read's CPU work: parsing response bodies, digesting secret values,
//! normalizing and packing objects. It has one thread per core the process may use
//! (`std::thread::available_parallelism`, which honours cgroup quotas), shared by both sides
//! of a diff, so the work of one large type spreads over every core instead of the one thread
//! that reads it.
//!
//! Jobs are scoped (`Cpu::scoped`): they may borrow the rules, the key and the sink, which live
//! for the whole read, and every job has ended when the scope returns. A job never waits for
//! anything but the CPU, so a reader awaiting one cannot deadlock the pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// The process's pool, built on first use.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads())
            .thread_name(|i| format!("kparity-cpu-{i}"))
            .build()
            // Threads that cannot be started are a machine out of resources: nothing to do.
            .expect("failed to start the CPU pool's threads")
    })
}

/// How many threads the pool has: one per core the process may use (asked once: the answer
/// reads cgroup files).
pub fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The slots of bounded jobs (`Cpu::run_bounded`), shared by every reader of the process: one
/// per thread, and one more so a thread that ends a job finds the next waiting.
fn in_flight() -> Arc<Semaphore> {
    static IN_FLIGHT: OnceLock<Arc<Semaphore>> = OnceLock::new();
    IN_FLIGHT.get_or_init(|| Arc::new(Semaphore::new(threads() + 1))).clone()
}

/// A handle to the pool within one scope, for one reader (one side): jobs borrow what outlives
/// `'env`. The readers of a process have at most `threads() + 1` pages in bounded jobs at once
/// (`run_bounded`): the pool is kept busy, and never holds more decoded pages (the largest
/// thing a read holds) than it can work on, so both sides of a diff together hold no more than
/// they did when each did its own work.
pub struct Cpu<'s, 'env> {
    scope: &'s rayon::Scope<'env>,
    in_flight: Arc<Semaphore>,
}

impl<'env> Cpu<'_, 'env> {
    /// Runs `read` with a handle to the pool; returns when `read` has and every job it started
    /// has ended (a job's panic is raised here).
    pub fn scoped<R>(read: impl for<'s> FnOnce(&Cpu<'s, 'env>) -> R) -> R {
        pool().in_place_scope(|scope| {
            let cpu = Cpu { scope, in_flight: in_flight() };
            read(&cpu)
        })
    }

    /// Starts `job` on the pool; its result is awaited (or waited for) through the `Job`.
    pub fn run<T: Send + 'env>(&self, job: impl FnOnce() -> T + Send + 'env) -> Job<T> {
        let (tx, rx) = oneshot::channel();
        self.scope.spawn(move |_| {
            // The reader may have stopped waiting (its read was abandoned): the result is dropped.
            let _ = tx.send(job());
        });
        Job(rx)
    }

    /// Starts `job` once fewer than `threads() + 1` bounded jobs run or wait, in the order
    /// asked: what bounds the pages the readers have handed over and not yet seen back.
    pub async fn run_bounded<T: Send + 'env>(&self, job: impl FnOnce() -> T + Send + 'env) -> Job<T> {
        let permit: Option<OwnedSemaphorePermit> = self.in_flight.clone().acquire_owned().await.ok();
        self.run(move || {
            let out = job();
            drop(permit);
            out
        })
    }
}

/// The result of a job on the pool, as a future (`.await`) or by blocking (`wait`).
#[must_use = "a job's result is its only way back"]
pub struct Job<T>(oneshot::Receiver<T>);

impl<T> Job<T> {
    /// Blocks the calling thread until the job has ended: for synchronous readers (an archive).
    pub fn wait(self) -> T {
        futures::executor::block_on(self)
    }
}

impl<T> Future for Job<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Ready(Ok(v)) => Poll::Ready(v),
            // The sender is dropped without a value only when the job panicked; the scope raises
            // that panic when it ends, so this reader stops here.
            Poll::Ready(Err(_)) => panic!("a job of the CPU pool panicked"),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_borrow_from_outside_the_scope_and_all_end_before_it_returns() {
        let words: Vec<String> = (0..64).map(|i| format!("w{i}")).collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let lens = Cpu::scoped(|cpu| {
            let jobs: Vec<Job<usize>> = words
                .iter()
                .map(|w| {
                    let done = &done;
                    cpu.run(move || {
                        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        w.len()
                    })
                })
                .collect();
            // Results come back in the order asked, whatever order the jobs ran in.
            jobs.into_iter().map(Job::wait).collect::<Vec<_>>()
        });
        assert_eq!(lens, words.iter().map(String::len).collect::<Vec<_>>());
        assert_eq!(done.into_inner(), 64);
    }

    /// The only test of the process that takes bounded slots, which are shared.
    #[test]
    fn the_readers_hand_over_at_most_the_pools_size_plus_one_pages() {
        use futures::FutureExt;
        let open = std::sync::atomic::AtomicBool::new(false);
        Cpu::scoped(|cpu| {
            futures::executor::block_on(async {
                let open = &open;
                let wait = move || {
                    while !open.load(std::sync::atomic::Ordering::SeqCst) {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                };
                let held: Vec<Job<()>> = (0..=threads())
                    .map(|_| cpu.run_bounded(wait).now_or_never().expect("a free slot is taken at once"))
                    .collect();
                let mut next = Box::pin(cpu.run_bounded(|| 7));
                assert!(futures::poll!(next.as_mut()).is_pending(), "one more waits until a job ends");
                open.store(true, std::sync::atomic::Ordering::SeqCst);
                for j in held {
                    j.await;
                }
                assert_eq!(next.await.await, 7);
            })
        });
    }
}
