//! The one leader task: takes admitted calls from the intake channel, forms batches, and hands
//! each to a writer when one of the bounded pool is free.
//!
//! A batch is due when full or when its linger runs out; with no linger (the default) it is
//! due at once, so a free writer takes whatever has arrived, however little: group commit.
//! Waiting helps nobody while a writer sits idle, and a small batch commits sooner. While every
//! writer is busy the leader keeps filling the open batch (up to its limits) and then stops
//! reading the intake, so load grows batches first and then the queue, whose budget turns
//! callers away: intake slows down instead of memory growing.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::batcher::{BatchLimits, Batcher, Weighed};

/// Runs until `closing` is cancelled and everything received is written: forms batches from
/// `intake` and runs `write` on each, at most `workers` at a time.
pub async fn run<T, F, Fut>(
    mut intake: mpsc::Receiver<T>,
    limits: BatchLimits,
    workers: usize,
    closing: CancellationToken,
    write: F,
) where
    T: Weighed + Send + 'static,
    F: Fn(Vec<T>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let pool = Arc::new(Semaphore::new(workers));
    let mut batch = Batcher::new(limits);
    // An item that did not fit the open batch: it starts the next one.
    let mut held: Option<T> = None;
    let mut open = true;
    let mut close_seen = false;
    loop {
        let now = Instant::now();
        let due = batch.is_full()
            || held.is_some()
            || !open
            || batch.deadline().is_some_and(|d| d <= now);
        if !open && batch.is_empty() && held.is_none() {
            break;
        }
        let ready = due && !batch.is_empty();
        let can_take = open && held.is_none() && !batch.is_full();
        let deadline = batch.deadline().unwrap_or(now);
        tokio::select! {
            // A free writer takes a due batch before anything else happens.
            biased;
            permit = pool.clone().acquire_owned(), if ready => {
                let Ok(permit) = permit else { break };
                // Calls already waiting join now rather than become the next, tiny batch.
                if open && held.is_none() {
                    held = fill(&mut batch, &mut intake);
                }
                let items = batch.take();
                if let Some(item) = held.take() {
                    batch.push(item, Instant::now());
                }
                let write = write.clone();
                tokio::spawn(async move {
                    write(items).await;
                    drop(permit);
                });
            }
            () = closing.cancelled(), if !close_seen => {
                // No more sends; what is buffered is still received, then `None`.
                close_seen = true;
                intake.close();
            }
            item = intake.recv(), if can_take => match item {
                Some(item) if batch.fits(&item) => batch.push(item, Instant::now()),
                Some(item) => held = Some(item),
                None => open = false,
            },
            () = sleep_until(deadline), if !due && !batch.is_empty() => {}
        }
    }
    // Every batch handed out finishes before the pipeline reports itself drained.
    let _ = pool.acquire_many(workers as u32).await;
}

/// Moves calls that are already in `intake` into `batch` without waiting, until it is full;
/// returns a call that did not fit, which starts the next batch.
fn fill<T: Weighed>(batch: &mut Batcher<T>, intake: &mut mpsc::Receiver<T>) -> Option<T> {
    while !batch.is_full() {
        let Ok(item) = intake.try_recv() else {
            return None;
        };
        if !batch.fits(&item) {
            return Some(item);
        }
        batch.push(item, Instant::now());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Duration;

    #[derive(Debug)]
    struct Item {
        records: usize,
        bytes: usize,
    }

    impl Weighed for Item {
        fn records(&self) -> usize {
            self.records
        }
        fn bytes(&self) -> usize {
            self.bytes
        }
    }

    fn item(records: usize, bytes: usize) -> Item {
        Item { records, bytes }
    }

    struct Harness {
        intake: mpsc::Sender<Item>,
        batches: mpsc::UnboundedReceiver<(Instant, Vec<usize>)>,
        closing: CancellationToken,
        leader: tokio::task::JoinHandle<()>,
        start: Instant,
    }

    /// A leader whose writer reports each batch (its items' record counts) and when it came.
    fn harness(limits: BatchLimits, workers: usize, write_time: Duration) -> Harness {
        let (intake, rx) = mpsc::channel(1024);
        let (tx, batches) = mpsc::unbounded_channel();
        let closing = CancellationToken::new();
        let leader = tokio::spawn(run(rx, limits, workers, closing.clone(), move |items| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((
                    Instant::now(),
                    items.iter().map(|i: &Item| i.records).collect(),
                ));
                tokio::time::sleep(write_time).await;
            }
        }));
        Harness {
            intake,
            batches,
            closing,
            leader,
            start: Instant::now(),
        }
    }

    const LIMITS: BatchLimits = BatchLimits {
        max_records: 100,
        max_bytes: 10_000,
        linger: Duration::from_millis(50),
    };

    #[tokio::test(start_paused = true)]
    async fn a_full_batch_goes_at_once() {
        let mut h = harness(LIMITS, 1, Duration::ZERO);
        for _ in 0..4 {
            h.intake.send(item(25, 10)).await.unwrap();
        }
        let (at, batch) = h.batches.recv().await.unwrap();
        assert_eq!(batch, [25, 25, 25, 25]);
        assert_eq!(at, h.start, "no linger for a full batch");
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_batch_goes_when_its_linger_runs_out() {
        let mut h = harness(LIMITS, 1, Duration::ZERO);
        h.intake.send(item(3, 10)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        h.intake.send(item(4, 10)).await.unwrap();
        let (at, batch) = h.batches.recv().await.unwrap();
        assert_eq!(batch, [3, 4]);
        // The clock started with the first item, not the last.
        assert_eq!(at - h.start, Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn the_byte_limit_closes_a_batch_and_an_item_that_does_not_fit_starts_the_next() {
        let mut h = harness(LIMITS, 1, Duration::ZERO);
        h.intake.send(item(1, 6000)).await.unwrap();
        h.intake.send(item(1, 6000)).await.unwrap();
        let (at, first) = h.batches.recv().await.unwrap();
        assert_eq!(
            (first, at),
            (vec![1], h.start),
            "the second would pass max_bytes"
        );
        let (at, second) = h.batches.recv().await.unwrap();
        assert_eq!(second, [1]);
        assert_eq!(at - h.start, Duration::from_millis(50));
        // An item larger than a whole batch still goes, alone.
        h.intake.send(item(1, 50_000)).await.unwrap();
        let (_, big) = h.batches.recv().await.unwrap();
        assert_eq!(big, [1]);
    }

    #[tokio::test(start_paused = true)]
    async fn busy_writers_make_batches_grow_instead_of_waiting_in_line() {
        let mut h = harness(LIMITS, 1, Duration::from_millis(500));
        h.intake.send(item(10, 10)).await.unwrap();
        let (at, first) = h.batches.recv().await.unwrap();
        assert_eq!(first, [10]);
        assert_eq!(at - h.start, Duration::from_millis(50));
        // The one writer is busy until 550 ms: these pile into one batch, not nine.
        for _ in 0..9 {
            h.intake.send(item(10, 10)).await.unwrap();
        }
        let (at, second) = h.batches.recv().await.unwrap();
        assert_eq!(second, vec![10; 9]);
        assert_eq!(at - h.start, Duration::from_millis(550));
    }

    const GROUP_COMMIT: BatchLimits = BatchLimits {
        linger: Duration::ZERO,
        ..LIMITS
    };

    #[tokio::test(start_paused = true)]
    async fn without_linger_a_free_writer_takes_what_is_there_and_busy_writers_grow_the_next() {
        let mut h = harness(GROUP_COMMIT, 1, Duration::from_millis(30));
        // Sent before the leader runs: one batch, not three of one call.
        for n in [1, 2, 3] {
            h.intake.send(item(n, 10)).await.unwrap();
        }
        let (at, first) = h.batches.recv().await.unwrap();
        assert_eq!((first, at), (vec![1, 2, 3], h.start), "no waiting");
        // While the one writer is busy (until 30 ms), calls pile into the next batch ...
        for n in [4, 5] {
            tokio::time::sleep(Duration::from_millis(10)).await;
            h.intake.send(item(n, 10)).await.unwrap();
        }
        let (at, second) = h.batches.recv().await.unwrap();
        assert_eq!(
            (second, at - h.start),
            (vec![4, 5], Duration::from_millis(30))
        );
        // ... up to the batch's limits; what does not fit starts the one after.
        for _ in 0..3 {
            h.intake.send(item(40, 10)).await.unwrap();
        }
        let (at, third) = h.batches.recv().await.unwrap();
        assert_eq!(
            (third, at - h.start),
            (vec![40, 40], Duration::from_millis(60))
        );
        let (at, fourth) = h.batches.recv().await.unwrap();
        assert_eq!(
            (fourth, at - h.start),
            (vec![40], Duration::from_millis(90))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn closing_flushes_what_was_received_and_waits_for_the_writers() {
        let mut h = harness(LIMITS, 2, Duration::from_millis(100));
        h.intake.send(item(1, 1)).await.unwrap();
        h.intake.send(item(2, 1)).await.unwrap();
        h.closing.cancel();
        h.leader.await.unwrap();
        let (at, batch) = h.batches.recv().await.unwrap();
        assert_eq!(batch, [1, 2]);
        assert_eq!(at, h.start, "closing does not wait for the linger");
        assert!(h.intake.send(item(1, 1)).await.is_err(), "intake is closed");
        assert_eq!(
            Instant::now() - h.start,
            Duration::from_millis(100),
            "waited for the write"
        );
    }
}
