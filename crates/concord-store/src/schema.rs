//! The store's own schema, versioned. Each migration runs once, in order, in
//! a transaction; the version lives in `concord_meta`.

use crate::sql::Dialect;

/// The schema version this build writes.
pub const LATEST: i64 = 5;

/// Statements of migration `version` (1-based).
pub(crate) fn migration(d: Dialect, version: i64) -> Vec<String> {
    let json = d.json_type();
    let (int, bool_) = match d {
        Dialect::Sqlite => ("INTEGER", "INTEGER"),
        Dialect::Postgres => ("BIGINT", "BOOLEAN"),
    };
    match version {
        // The action log.
        1 => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS concord_log (\
                 id TEXT PRIMARY KEY, flow TEXT NOT NULL, seq {int} NOT NULL, \
                 concept TEXT NOT NULL, action TEXT NOT NULL, input {json} NOT NULL, \
                 error {bool_} NOT NULL, output {json} NOT NULL, sync TEXT, matched {json} NOT NULL, \
                 started_at {int} NOT NULL, completed_at {int} NOT NULL)"
            ),
            "CREATE INDEX IF NOT EXISTS concord_log_flow ON concord_log (flow, seq)".into(),
        ],
        // Time-ordered access for listings and retention; the registry of
        // collections the apps declared.
        2 => vec![
            "CREATE INDEX IF NOT EXISTS concord_log_time ON concord_log (completed_at)".into(),
            "CREATE TABLE IF NOT EXISTS concord_collections (name TEXT PRIMARY KEY, spec TEXT NOT NULL)".into(),
        ],
        // Nothing reads the log by record id: drop that unique index, one
        // fewer to maintain on every append. Records are read by flow (the
        // flow index) and by time (the time index).
        3 => match d {
            Dialect::Sqlite => vec![
                format!(
                    "CREATE TABLE concord_log_v3 (\
                     id TEXT NOT NULL, flow TEXT NOT NULL, seq {int} NOT NULL, \
                     concept TEXT NOT NULL, action TEXT NOT NULL, input {json} NOT NULL, \
                     error {bool_} NOT NULL, output {json} NOT NULL, sync TEXT, matched {json} NOT NULL, \
                     started_at {int} NOT NULL, completed_at {int} NOT NULL)"
                ),
                "INSERT INTO concord_log_v3 SELECT id, flow, seq, concept, action, input, error, output, sync, \
                 matched, started_at, completed_at FROM concord_log"
                    .into(),
                "DROP TABLE concord_log".into(),
                "ALTER TABLE concord_log_v3 RENAME TO concord_log".into(),
                "CREATE INDEX IF NOT EXISTS concord_log_flow ON concord_log (flow, seq)".into(),
                "CREATE INDEX IF NOT EXISTS concord_log_time ON concord_log (completed_at)".into(),
            ],
            Dialect::Postgres => vec!["ALTER TABLE concord_log DROP CONSTRAINT IF EXISTS concord_log_pkey".into()],
        },
        // The log policy: whether a record belongs to a flow that changed
        // state (kept for the retention period) or to a read-only flow (kept
        // in a recent window, trimmed through the partial index), and its
        // stored size, for retention by size. Older rows count as kept.
        4 => {
            let true_ = match d {
                Dialect::Sqlite => "1",
                Dialect::Postgres => "TRUE",
            };
            vec![
                format!("ALTER TABLE concord_log ADD COLUMN kept {bool_} NOT NULL DEFAULT {true_}"),
                format!("ALTER TABLE concord_log ADD COLUMN bytes {int} NOT NULL DEFAULT 0"),
                "CREATE INDEX IF NOT EXISTS concord_log_read_only ON concord_log (completed_at) WHERE NOT kept".into(),
            ]
        }
        // The flow journal (one row per open flow that has written, owned
        // by a node under a lease) and the resumptions of interrupted flows.
        // No index on the owner: the table holds only open flows, and every
        // commit of a flow writes its row, so an index would cost each
        // commit a page to save scans of a small table.
        5 => {
            let blob = match d {
                Dialect::Sqlite => "BLOB",
                Dialect::Postgres => "BYTEA",
            };
            vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS concord_journal (flow TEXT PRIMARY KEY, owner TEXT NOT NULL, \
                     lease_until {int} NOT NULL, updated_at {int} NOT NULL, snapshot {blob} NOT NULL)"
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS concord_resumptions (flow TEXT NOT NULL, at {int} NOT NULL, \
                     from_seq {int} NOT NULL, node TEXT NOT NULL, previous_owner TEXT NOT NULL)"
                ),
                "CREATE INDEX IF NOT EXISTS concord_resumptions_flow ON concord_resumptions (flow)".into(),
            ]
        }
        _ => Vec::new(),
    }
}

pub(crate) const META: &str = "CREATE TABLE IF NOT EXISTS concord_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)";

pub(crate) fn too_new(found: i64) -> crate::StoreError {
    crate::StoreError::TooNew {
        found,
        supported: LATEST,
    }
}
