//! SQLite's one write connection, shared by concurrent actions through group
//! commit: an action that finishes while another is waiting for the writer
//! leaves the transaction open for it and is told when the group commits,
//! so N actions in flight cost one `COMMIT` (one write of each page they
//! touched to the WAL), not N.
//!
//! The first action of a group opens it (`BEGIN IMMEDIATE`); each later one
//! runs inside a savepoint, so that its failure undoes only its own writes.
//! No action is answered before the `COMMIT` that holds it: a crash loses
//! the whole open group, none of which was acknowledged.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use concord_concept::StateError;
use rusqlite::Connection;
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard, oneshot};

use crate::sqlite::backend_error;

/// How many finished actions one open transaction may hold: bounds how long
/// the first of them waits for its answer.
const MAX_GROUP: usize = 32;

/// How long a finished action waits before checking that someone is still
/// coming to commit its group (the task that was waiting for the writer may
/// have been cancelled).
const PATIENCE: Duration = Duration::from_millis(1);

/// The write connection and the transaction actions share.
pub(crate) struct Writer {
    conn: Connection,
    /// A transaction is open (`BEGIN IMMEDIATE`).
    open: bool,
    /// The finished actions in the open transaction, told when it commits.
    /// Outside a turn, an open transaction always holds at least one.
    finished: Vec<oneshot::Sender<Result<(), StateError>>>,
}

impl Deref for Writer {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.settle();
    }
}

impl Writer {
    /// Commits the open transaction, if any, and tells the actions in it.
    pub fn settle(&mut self) {
        if self.open {
            let _ = self.commit_group();
        }
    }

    fn commit_group(&mut self) -> Result<(), StateError> {
        // The database may have rolled the transaction back itself (a full
        // disk, an I/O error): then nothing of the group was kept.
        let committed = if self.conn.is_autocommit() {
            Err(StateError::Backend("the database rolled the transaction back".into()))
        } else {
            self.conn.execute_batch("COMMIT").map_err(backend_error)
        };
        if committed.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.open = false;
        for action in self.finished.drain(..) {
            let _ = action.send(committed.clone());
        }
        committed
    }
}

/// The writer, and how many are waiting to take a turn at it.
#[derive(Clone)]
pub(crate) struct SharedWriter {
    writer: Arc<Mutex<Writer>>,
    queued: Arc<AtomicUsize>,
}

impl SharedWriter {
    pub fn new(conn: Connection) -> Self {
        SharedWriter {
            writer: Arc::new(Mutex::new(Writer {
                conn,
                open: false,
                finished: Vec::new(),
            })),
            queued: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The connection to itself, with no transaction open: for work outside
    /// any action (schema, journals at start, pruning, reads of an
    /// in-memory database), which must not see or join a group.
    pub async fn settled(&self) -> MutexGuard<'_, Writer> {
        let mut w = self.writer.lock().await;
        w.settle();
        w
    }

    /// A turn in the group if one is open or others are waiting for the
    /// writer; else the connection alone, for work that is cheaper on its
    /// own (one INSERT needs no transaction).
    pub async fn turn_or_alone(&self) -> Result<Use, StateError> {
        let w = self.lock_counted().await;
        if !w.open && self.queued.load(Ordering::Acquire) == 0 {
            return Ok(Use::Alone(w));
        }
        self.start(w).map(Use::Grouped)
    }

    /// A turn at the writer for one action: its statements run in the
    /// group's transaction.
    pub async fn turn(&self) -> Result<Turn, StateError> {
        let w = self.lock_counted().await;
        self.start(w)
    }

    async fn lock_counted(&self) -> OwnedMutexGuard<Writer> {
        struct Queued<'a>(&'a AtomicUsize);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        let _queued = Queued(&self.queued);
        self.writer.clone().lock_owned().await
    }

    fn start(&self, mut w: OwnedMutexGuard<Writer>) -> Result<Turn, StateError> {
        let savepoint = w.open;
        let started = if savepoint {
            w.conn.execute_batch("SAVEPOINT concord_action")
        } else {
            w.conn.execute_batch("BEGIN IMMEDIATE")
        };
        if let Err(e) = started {
            // A group left open still has its finished actions to commit.
            if savepoint {
                w.commit_group().ok();
            }
            return Err(backend_error(e));
        }
        w.open = true;
        Ok(Turn {
            w: Some(w),
            savepoint,
            writer: self.writer.clone(),
            queued: self.queued.clone(),
        })
    }
}

/// The writer taken by [`SharedWriter::turn_or_alone`].
pub(crate) enum Use {
    /// No group: the connection, no transaction open.
    Alone(OwnedMutexGuard<Writer>),
    /// A turn in the group.
    Grouped(Turn),
}

/// One action's (or log batch's) use of the writer, from its first
/// statement to its commit; dropped unfinished, its writes are undone.
pub(crate) struct Turn {
    w: Option<OwnedMutexGuard<Writer>>,
    /// Inside a savepoint (it joined an open group), else it opened the
    /// transaction itself.
    savepoint: bool,
    writer: Arc<Mutex<Writer>>,
    queued: Arc<AtomicUsize>,
}

impl Turn {
    /// The connection, while the transaction is still good.
    pub fn conn(&self) -> Result<&Connection, StateError> {
        match &self.w {
            Some(w) if !w.conn.is_autocommit() => Ok(&w.conn),
            Some(_) => Err(StateError::Backend("the database rolled the transaction back".into())),
            None => Err(StateError::Backend("transaction already finished".into())),
        }
    }

    /// Keeps this turn's writes: answered once the transaction holding them
    /// commits, with the group or alone.
    pub async fn commit(mut self) -> Result<(), StateError> {
        let Some(mut w) = self.w.take() else {
            return Err(StateError::Backend("transaction already finished".into()));
        };
        if self.savepoint
            && let Err(e) = w.conn.execute_batch("RELEASE concord_action")
        {
            let e = backend_error(e);
            undo(&mut w, self.savepoint, &self.queued);
            return Err(e);
        }
        if self.queued.load(Ordering::Acquire) == 0 || w.finished.len() + 1 >= MAX_GROUP {
            return w.commit_group();
        }
        let (told, mut answer) = oneshot::channel();
        w.finished.push(told);
        drop(w);
        loop {
            match tokio::time::timeout(PATIENCE, &mut answer).await {
                Ok(Ok(committed)) => return committed,
                Ok(Err(_)) => return Err(StateError::Backend("the group commit was abandoned".into())),
                // A free writer with the group still open: whoever was
                // coming has gone, so the group commits now.
                Err(_) => {
                    if let Ok(mut w) = self.writer.try_lock() {
                        w.settle();
                    }
                }
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(mut w) = self.w.take() {
            undo(&mut w, self.savepoint, &self.queued);
        }
    }
}

/// Undoes a turn's writes; the group, if any, stays open for the next one
/// waiting, or commits now.
fn undo(w: &mut Writer, savepoint: bool, queued: &AtomicUsize) {
    if !savepoint {
        // The opener: nobody else is in the transaction yet.
        let _ = w.conn.execute_batch("ROLLBACK");
        w.open = false;
        return;
    }
    if w.conn
        .execute_batch("ROLLBACK TO concord_action; RELEASE concord_action")
        .is_err()
        || queued.load(Ordering::Acquire) == 0
        || w.finished.len() >= MAX_GROUP
    {
        let _ = w.commit_group();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    static COMMITS: AtomicU64 = AtomicU64::new(0);

    /// A writer on a WAL file with table `t (x)`, counting its `COMMIT`s,
    /// and a second connection that sees only what was committed.
    fn open(dir: &tempfile::TempDir) -> (SharedWriter, Connection) {
        let path = dir.path().join("g.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT PRIMARY KEY)").unwrap();
        conn.trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            Some(|e: rusqlite::trace::TraceEvent<'_>| {
                if let rusqlite::trace::TraceEvent::Stmt(_, sql) = e
                    && sql == "COMMIT"
                {
                    COMMITS.fetch_add(1, Ordering::Relaxed);
                }
            }),
        )
        .unwrap();
        (SharedWriter::new(conn), Connection::open(&path).unwrap())
    }

    fn insert(turn: &Turn, x: &str) {
        turn.conn().unwrap().execute("INSERT INTO t VALUES (?1)", [x]).unwrap();
    }

    fn committed(reader: &Connection, x: &str) -> bool {
        reader
            .query_row("SELECT COUNT(*) FROM t WHERE x = ?1", [x], |r| r.get::<_, i64>(0))
            .unwrap()
            == 1
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_turns_share_commits_and_each_is_answered_after_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, _) = open(&dir);
        let before = COMMITS.load(Ordering::Relaxed);
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let writer = writer.clone();
                let path = dir.path().join("g.db");
                tokio::spawn(async move {
                    let turn = writer.turn().await.unwrap();
                    insert(&turn, &format!("r{i}"));
                    tokio::task::yield_now().await;
                    turn.commit().await.unwrap();
                    // Answered: already visible to every other connection.
                    assert!(committed(&Connection::open(path).unwrap(), &format!("r{i}")));
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let commits = COMMITS.load(Ordering::Relaxed) - before;
        assert!(commits < 64, "{commits} commits for 64 turns");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_turn_undoes_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = open(&dir);
        let first = writer.turn().await.unwrap();
        insert(&first, "kept");
        let w = writer.clone();
        let second = tokio::spawn(async move {
            let turn = w.turn().await.unwrap();
            insert(&turn, "undone");
            // Dropped unfinished: its writes go, the group stays.
            drop(turn);
        });
        tokio::task::yield_now().await;
        // The second is waiting for the writer: the first leaves the group
        // open for it, and is answered when it ends.
        first.commit().await.unwrap();
        second.await.unwrap();
        assert!(committed(&reader, "kept"));
        assert!(!committed(&reader, "undone"));
        // The writer is free and settled: a new turn opens a new transaction.
        let third = writer.turn().await.unwrap();
        assert!(!third.savepoint);
        insert(&third, "later");
        third.commit().await.unwrap();
        assert!(committed(&reader, "later"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_group_whose_next_turn_was_cancelled_still_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = open(&dir);
        let first = writer.turn().await.unwrap();
        insert(&first, "a");
        // A turn that queues for the writer (polled once), ...
        let mut waiting = Box::pin(writer.turn());
        tokio::select! {
            biased;
            _ = &mut waiting => unreachable!("the writer is taken"),
            () = std::future::ready(()) => {}
        }
        // ... so the first leaves the group open for it and hands it the
        // writer, ...
        let commit = tokio::spawn(first.commit());
        tokio::task::yield_now().await;
        // ... and then never comes.
        drop(waiting);
        let answered = tokio::time::timeout(Duration::from_secs(5), commit).await;
        answered.expect("the group was never committed").unwrap().unwrap();
        assert!(committed(&reader, "a"));
    }
}
