//! Group commit for log records of actions that changed no state: they are
//! queued and written many per transaction by one background task, so a
//! read-only request does not pay one commit per action. (Records of actions
//! that changed state are written in those actions' own transactions.)
//! Readers of the log flush the queue first, so they always see every record
//! appended before they asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use concord_concept::state::LogEntry;
use concord_concept::{BoxFuture, StateError};
use tokio::sync::{Notify, mpsc};

/// Most records written in one transaction.
const BATCH: usize = 2048;

/// How long the writer waits for more records before writing a batch.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// Records to write, with the flows whose journals go with them.
#[derive(Default)]
pub(crate) struct Batch {
    pub entries: Vec<LogEntry>,
    /// Flows that ended: their journals are deleted with their last records.
    pub closed: Vec<String>,
}

enum Queued {
    Entry(Box<LogEntry>),
    Finished { flow: String, entries: Vec<LogEntry> },
}

pub(crate) struct LogQueue {
    sender: mpsc::UnboundedSender<Queued>,
    queued: AtomicU64,
    progress: Arc<Progress>,
}

struct Progress {
    written: AtomicU64,
    notify: Notify,
}

/// Writes a batch of records in one transaction.
pub(crate) type BatchWriter = Arc<dyn Fn(Batch) -> BoxFuture<'static, Result<(), StateError>> + Send + Sync>;

impl LogQueue {
    /// Starts the background writer on the current runtime.
    pub(crate) fn start(write: BatchWriter) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Queued>();
        let progress = Arc::new(Progress {
            written: AtomicU64::new(0),
            notify: Notify::new(),
        });
        let p = progress.clone();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                // Let a batch gather: each commit rewrites whole pages, so
                // many records per commit cost little more than one.
                tokio::time::sleep(GATHER).await;
                let mut batch = Batch::default();
                let mut n = 0u64;
                let mut next = Some(first);
                while let Some(queued) = next.take() {
                    n += 1;
                    match queued {
                        Queued::Entry(e) => batch.entries.push(*e),
                        Queued::Finished { flow, entries } => {
                            batch.entries.extend(entries);
                            batch.closed.push(flow);
                        }
                    }
                    if batch.entries.len() < BATCH {
                        next = receiver.try_recv().ok();
                    }
                }
                let records = batch.entries.len();
                if let Err(e) = write(batch).await {
                    tracing::error!(target: "concord::store", "could not write {records} log record(s): {e}");
                }
                p.written.fetch_add(n, Ordering::SeqCst);
                p.notify.notify_waiters();
            }
        });
        LogQueue {
            sender,
            queued: AtomicU64::new(0),
            progress,
        }
    }

    pub(crate) fn push(&self, entry: LogEntry) -> Result<(), StateError> {
        self.send(Queued::Entry(Box::new(entry)))
    }

    /// Queues a finished flow's last records and its journal's deletion, to
    /// be written in one transaction.
    pub(crate) fn finish(&self, flow: String, entries: Vec<LogEntry>) -> Result<(), StateError> {
        self.send(Queued::Finished { flow, entries })
    }

    fn send(&self, queued: Queued) -> Result<(), StateError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        self.sender
            .send(queued)
            .map_err(|_| StateError::Backend("the log writer has stopped".into()))
    }

    /// Waits until every record queued before this call is written.
    pub(crate) async fn flush(&self) {
        let target = self.queued.load(Ordering::SeqCst);
        loop {
            let notified = self.progress.notify.notified();
            if self.progress.written.load(Ordering::SeqCst) >= target {
                return;
            }
            notified.await;
        }
    }
}

/// When the writer trims read-only flows' records: after every quarter of
/// the window written, so the log holds at most 1.25 windows of them and a
/// trim deletes many rows at once.
pub(crate) struct TrimSchedule {
    window: u64,
    since_trim: AtomicU64,
}

impl TrimSchedule {
    pub(crate) fn new(window: u64) -> Self {
        TrimSchedule {
            window,
            since_trim: AtomicU64::new(0),
        }
    }

    /// The number of read-only records kept.
    pub(crate) fn window(&self) -> u64 {
        self.window
    }

    /// Counts `batch`'s read-only records; `true` when a trim is due.
    pub(crate) fn due(&self, batch: &[LogEntry]) -> bool {
        let read_only = batch.iter().filter(|e| !e.kept).count() as u64;
        let total = self.since_trim.fetch_add(read_only, Ordering::Relaxed) + read_only;
        if total >= (self.window / 4).max(1) {
            self.since_trim.store(0, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
}
