//! Collection across threads: before the admin port answers `/metrics`, each worker thread
//! brings its own series up to date on its own thread ([`super::series::collect_here`]:
//! open connections' bytes, pipeline counts, the script's gauge callbacks, which need the
//! worker's script engine). The admin port waits for the workers up to a bound, then
//! answers with what is recorded: a busy or stuck worker shows its last values.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::mpsc as channel;

/// How a worker is asked to collect: it answers on the sender it is given once done. One
/// request at most waits per worker: a worker that has not taken the last one is busy or
/// stuck, and asking again would only queue senders while it stays so.
type Ask = channel::Sender<mpsc::Sender<()>>;

static WORKERS: Mutex<Vec<(u64, Ask)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A worker's end: requests to collect arrive here while it lives.
pub struct Requests {
    id: u64,
    asked: channel::Receiver<mpsc::Sender<()>>,
}

/// Lists the calling worker among those asked to collect.
pub fn register() -> Requests {
    let (tx, asked) = channel::channel(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    WORKERS.lock().unwrap().push((id, tx));
    Requests { id, asked }
}

impl Requests {
    /// The next request: collect, then send on the sender returned.
    pub async fn next(&mut self) -> Option<mpsc::Sender<()>> {
        self.asked.recv().await
    }
}

impl Drop for Requests {
    fn drop(&mut self) {
        WORKERS.lock().unwrap().retain(|(id, _)| *id != self.id);
    }
}

/// Asks every worker to collect and waits until all have, or `wait` has passed. A worker
/// still holding an earlier request is not waited for.
pub fn all(wait: Duration) {
    let (done, answers) = mpsc::channel();
    let asked = WORKERS.lock().unwrap().iter().filter(|(_, ask)| ask.try_send(done.clone()).is_ok()).count();
    drop(done);
    let deadline = Instant::now() + wait;
    for _ in 0..asked {
        let left = deadline.saturating_duration_since(Instant::now());
        if answers.recv_timeout(left).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_does_not_answer_holds_the_answer_only_up_to_the_bound() {
        let mut slow = register();
        let started = Instant::now();
        all(Duration::from_millis(100));
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(started.elapsed() < Duration::from_secs(2));
        // Its first request still waits: a second scrape neither queues another nor waits.
        let started = Instant::now();
        all(Duration::from_secs(5));
        assert!(started.elapsed() < Duration::from_secs(1), "a worker holding a request is not asked again");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert!(rt.block_on(slow.next()).is_some());
        assert!(slow.asked.try_recv().is_err(), "one request queued, not two");
        drop(slow);
        let started = Instant::now();
        all(Duration::from_secs(5));
        assert!(started.elapsed() < Duration::from_secs(1), "nobody left to wait for");
    }
}
