//! The flow journal: for each flow that has committed a write and still has
//! work left, the engine's snapshot of it (its records and what remains to
//! do), rewritten in the transaction of each of its writes and deleted with
//! its last log records. A node owns the flows it runs under a lease; after
//! a crash the same node (at start) or another one (once the lease expired)
//! claims the journal and finishes the flow.
//!
//! Snapshots hold the flow's values unredacted (a resumed registration needs
//! its password), so they are sealed (ChaCha20-Poly1305) with a key kept
//! outside the database: a copy of the database, its WAL or a backup shows
//! no secret of an open flow, and a closed flow's snapshot is gone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::StoreError;

/// How this process takes part in finishing interrupted flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// This node's name in the journal (`CONCORD_NODE_ID`). Keep it stable
    /// across restarts: a restarted node resumes its own flows at once,
    /// other nodes' only when their lease expires.
    pub node: String,
    /// How long a flow stays with its node without a renewal
    /// (`CONCORD_FLOW_LEASE`, 30 s). Nodes renew every third of it.
    pub lease: Duration,
    /// The journal's key, 64 hex digits (`CONCORD_JOURNAL_KEY`); several
    /// nodes sharing a database must share it. Without one, a key file:
    /// beside an SQLite database (`app.db.journal-key`), in the working
    /// directory for PostgreSQL (`concord-journal.key`), created on first
    /// use, readable by its owner only.
    pub journal_key: Option<String>,
}

impl Default for NodeSettings {
    fn default() -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        NodeSettings {
            node: format!("{host}:{}", std::process::id()),
            lease: Duration::from_secs(30),
            journal_key: None,
        }
    }
}

/// What a backend needs to keep journals: its node, lease and seal.
pub(crate) struct Journal {
    pub node: String,
    pub lease: Duration,
    cipher: ChaCha20Poly1305,
}

const NONCE: usize = 12;

impl Journal {
    /// A journal for `settings`, with the key they give, or the key file at
    /// `key_file` (created if missing), or — with neither, for an in-memory
    /// database that cannot outlive the process anyway — a random key.
    pub(crate) fn new(settings: &NodeSettings, key_file: Option<&Path>) -> Result<Journal, StoreError> {
        let key = match (&settings.journal_key, key_file) {
            (Some(hex), _) => parse_key(hex).ok_or_else(|| StoreError::Database {
                message: "CONCORD_JOURNAL_KEY must be 64 hexadecimal digits (32 bytes); \
                          `openssl rand -hex 32` makes one"
                    .into(),
                source: None,
            })?,
            (None, Some(path)) => key_from_file(path)?,
            (None, None) => random_key()?,
        };
        Ok(Journal {
            node: settings.node.clone(),
            lease: settings.lease,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// The lease end for a flow written or claimed now (µs since the epoch).
    pub(crate) fn lease_until(&self) -> i64 {
        crate::now_micros() + self.lease.as_micros() as i64
    }

    pub(crate) fn seal(&self, snapshot: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        // A nonce that repeats under one key breaks the seal: random 96-bit
        // nonces make that negligible for far more snapshots than a journal
        // ever holds; if the OS has no randomness, fall back to time and id.
        if getrandom::fill(&mut nonce).is_err() {
            let t = crate::now_micros().to_le_bytes();
            let id = concord_concept::RecordId::fresh().0.into_bytes();
            nonce[..8].copy_from_slice(&t);
            nonce[8..].copy_from_slice(&id[12..]);
        }
        let mut sealed = nonce.to_vec();
        // Encrypting into memory cannot fail for inputs this size.
        sealed.extend(
            self.cipher
                .encrypt(Nonce::from_slice(&nonce), snapshot)
                .unwrap_or_default(),
        );
        sealed
    }

    /// The snapshot `sealed` holds, or `None` if it was sealed with another
    /// key or damaged.
    pub(crate) fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE);
        self.cipher.decrypt(Nonce::from_slice(nonce), body).ok()
    }
}

fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(key)
}

fn random_key() -> Result<[u8; 32], StoreError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| StoreError::Database {
        message: format!("no randomness for the journal key: {e}"),
        source: None,
    })?;
    Ok(key)
}

fn key_from_file(path: &Path) -> Result<[u8; 32], StoreError> {
    let failed = |e: std::io::Error| StoreError::database(format!("journal key file {}: {e}", path.display()), e);
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(&text).ok_or_else(|| StoreError::Database {
            message: format!("journal key file {} must hold 64 hexadecimal digits", path.display()),
            source: None,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_key()?;
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut file) => {
                    std::io::Write::write_all(&mut file, format!("{hex}\n").as_bytes()).map_err(failed)?;
                    tracing::info!(
                        target: "concord::store",
                        "created the journal key file {} (set CONCORD_JOURNAL_KEY to share one key between nodes)",
                        path.display()
                    );
                    Ok(key)
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_from_file(path),
                Err(e) => Err(failed(e)),
            }
        }
        Err(e) => Err(failed(e)),
    }
}

/// The key file beside an SQLite database.
pub(crate) fn key_file_beside(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".journal-key");
    PathBuf::from(name)
}

/// Writes a flow's journal (this node must own it, or it must be new).
/// Affects no row when another node has taken the flow over.
pub(crate) const UPSERT: &str = "INSERT INTO concord_journal (flow, owner, lease_until, updated_at, snapshot) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (flow) DO UPDATE SET lease_until = excluded.lease_until, \
     updated_at = excluded.updated_at, snapshot = excluded.snapshot WHERE concord_journal.owner = excluded.owner";

/// Deletes a flow's journal if this node owns it.
pub(crate) const DELETE: &str = "DELETE FROM concord_journal WHERE flow = $1 AND owner = $2";

/// Extends the leases of this node's flows.
pub(crate) const RENEW: &str = "UPDATE concord_journal SET lease_until = $2 WHERE owner = $1";

/// The owner of an open flow's journal.
pub(crate) const OWNER: &str = "SELECT owner FROM concord_journal WHERE flow = $1";

/// Records a resumption.
pub(crate) const NOTE_RESUMPTION: &str =
    "INSERT INTO concord_resumptions (flow, at, from_seq, node, previous_owner) VALUES ($1, $2, $3, $4, $5)";

/// Forgets resumptions older than the log's retention.
pub(crate) const PRUNE_RESUMPTIONS: &str = "DELETE FROM concord_resumptions WHERE at < $1";

/// A flow's resumptions, in order.
pub(crate) const RESUMPTIONS: &str =
    "SELECT flow, at, from_seq, node, previous_owner FROM concord_resumptions WHERE flow = $1 ORDER BY at";

/// The claimed flows whose snapshots open with this node's key, and (flow,
/// previous owner) of those that do not: a node with another key cannot
/// finish them, one with the right key can. Each is named in the server's
/// log.
pub(crate) fn open_claimed(
    journal: &Journal,
    rows: impl Iterator<Item = (String, String, Vec<u8>)>,
) -> (Vec<concord_concept::state::OpenFlow>, Vec<(String, String)>) {
    let mut opened = Vec::new();
    let mut sealed_elsewhere = Vec::new();
    for (flow, previous_owner, sealed) in rows {
        match journal.open(&sealed) {
            Some(snapshot) => opened.push(concord_concept::state::OpenFlow {
                flow,
                snapshot,
                previous_owner,
            }),
            None => {
                tracing::error!(
                    target: "concord::store",
                    flow = %flow,
                    "cannot open the journal of interrupted flow {flow}: it was sealed with another key \
                     (every node must share CONCORD_JOURNAL_KEY); leaving it to a node that can"
                );
                sealed_elsewhere.push((flow, previous_owner));
            }
        }
    }
    (opened, sealed_elsewhere)
}

/// Gives a claimed flow this node cannot open back, expired, to the node
/// that had it: any node with the right key may take it over.
pub(crate) const GIVE_BACK: &str =
    "UPDATE concord_journal SET owner = $3, lease_until = 0 WHERE flow = $1 AND owner = $2";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_the_same_key_only() {
        let settings = NodeSettings {
            journal_key: Some("00".repeat(32)),
            ..NodeSettings::default()
        };
        let journal = Journal::new(&settings, None).unwrap();
        let sealed = journal.seal(b"{\"password\":\"hunter22\"}");
        assert!(!sealed.windows(8).any(|w| w == b"hunter22"), "the seal hides the text");
        assert_eq!(journal.open(&sealed).unwrap(), b"{\"password\":\"hunter22\"}");
        let other = Journal::new(
            &NodeSettings {
                journal_key: Some("11".repeat(32)),
                ..NodeSettings::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(other.open(&sealed), None, "another key cannot open it");
        assert_ne!(journal.seal(b"x"), journal.seal(b"x"), "a fresh nonce each time");
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db.journal-key");
        let first = key_from_file(&path).unwrap();
        assert_eq!(key_from_file(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(
            Journal::new(
                &NodeSettings {
                    journal_key: Some("not hex".into()),
                    ..NodeSettings::default()
                },
                None
            )
            .is_err()
        );
    }
}
