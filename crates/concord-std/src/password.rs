//! Password hashing: Argon2id for new hashes; bcrypt hashes (from the
//! reference stack) are verified and should be replaced on the next login.
//!
//! Both are deliberately slow and Argon2 needs 19 MiB per hash, so they run
//! off the async workers, at most one per core at a time, each in working
//! memory that is allocated once and reused. Unbounded, a flood of failed
//! logins (which needs no account) had a blocking thread per login allocate
//! its own 19 MiB, which the allocator kept: 32 at a time for 8 rounds left
//! 3.4 GB resident. Beyond a few waiting per core, an action is refused as
//! overloaded ([`ActionContext::overloaded`]): a login flood gets 503 with
//! `Retry-After` instead of a queue that grows without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use concord_concept::ActionContext;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// At most one hash per core at a time, each with a reusable memory, and
/// at most [`QUEUED_PER_CORE`] per core running or waiting.
struct Pool {
    slots: Semaphore,
    memories: Mutex<Vec<Vec<Block>>>,
    /// Hashes running or waiting for a slot.
    admitted: AtomicUsize,
    limit: usize,
}

/// Hashes that may run or wait per core before more are refused (a hash
/// takes ~50 ms on one core: four per core is a wait of ~0.2 s).
pub const QUEUED_PER_CORE: usize = 4;

/// What a refused client is told to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Pool {
            slots: Semaphore::new(cores),
            memories: Mutex::new(Vec::new()),
            admitted: AtomicUsize::new(0),
            limit: cores * QUEUED_PER_CORE,
        }
    })
}

/// Gives the admission back however the hash ends (a dropped future too).
struct Admitted(&'static Pool);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `work` on a blocking thread with a pooled Argon2 memory, waiting
/// for a free slot first; `None` when the pool is full (`ctx` is then
/// marked overloaded) or the work was interrupted.
async fn pooled<T: Send + 'static>(
    ctx: &mut ActionContext,
    work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Option<T> {
    let pool = pool();
    if pool.admitted.fetch_add(1, Ordering::AcqRel) >= pool.limit {
        pool.admitted.fetch_sub(1, Ordering::AcqRel);
        ctx.overloaded(RETRY_AFTER);
        return None;
    }
    let _admitted = Admitted(pool);
    let _slot = pool.slots.acquire().await.ok()?;
    let mut memory = pool
        .memories
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    let (result, memory) = tokio::task::spawn_blocking(move || {
        let result = work(&mut memory);
        (result, memory)
    })
    .await
    .ok()?;
    pool.memories.lock().unwrap_or_else(|e| e.into_inner()).push(memory);
    Some(result)
}

/// Argon2 output into `out` for these parameters, in `memory` (grown to the
/// parameters' size if needed, then kept).
fn argon2_into(
    (algorithm, version): (Algorithm, Version),
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), argon2::Error> {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let blocks = params.block_count();
    Argon2::new(algorithm, version, params).hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
}

/// An Argon2id hash of `password` in PHC string form (the crate's default
/// parameters: m=19456, t=2, p=1).
pub async fn hash(ctx: &mut ActionContext, password: String) -> Result<String, String> {
    pooled(ctx, move |memory| {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
        let params = Params::default();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let new = (Algorithm::Argon2id, Version::V0x13);
        argon2_into(new, params.clone(), password.as_bytes(), &salt, &mut out, memory)
            .map_err(|e| format!("hashing failed: {e}"))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        let output = argon2::password_hash::Output::new(&out).map_err(|e| e.to_string())?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: (&params)
                .try_into()
                .map_err(|e: argon2::password_hash::Error| e.to_string())?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    })
    .await
    .unwrap_or_else(|| Err("the server is busy hashing passwords; try again".into()))
}

/// Whether `password` matches `hash` (Argon2 PHC string or bcrypt `$2…`).
///
/// `false` also when the pool is full (then `ctx` is marked overloaded and
/// the engine discards the outcome).
pub async fn verify(ctx: &mut ActionContext, password: String, hash: String) -> bool {
    pooled(ctx, move |memory| {
        if is_legacy(&hash) {
            return bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false);
        }
        let Ok(phc) = PasswordHash::new(&hash) else {
            return false;
        };
        let (Ok(params), Some(expected), Some(salt)) = (Params::try_from(&phc), phc.hash, phc.salt) else {
            return false;
        };
        let algorithm = Algorithm::try_from(phc.algorithm).unwrap_or(Algorithm::Argon2id);
        let version = phc.version.and_then(|v| Version::try_from(v).ok()).unwrap_or_default();
        let mut salt_bytes = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let computed = argon2_into(
            (algorithm, version),
            params,
            password.as_bytes(),
            salt,
            &mut out,
            memory,
        );
        // Output compares in constant time.
        computed.is_ok() && argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
    })
    .await
    .unwrap_or(false)
}

/// A bcrypt hash, to be upgraded to Argon2id.
pub fn is_legacy(hash: &str) -> bool {
    hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};
    use concord_concept::{FlowId, RecordId};

    fn ctx() -> ActionContext {
        ActionContext::new(FlowId::fresh(), RecordId::fresh())
    }

    #[tokio::test]
    async fn argon2id_and_bcrypt() {
        let h = hash(&mut ctx(), "correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(&mut ctx(), "correct horse".into(), h.clone()).await);
        assert!(!verify(&mut ctx(), "wrong horse".into(), h).await);
        let legacy = bcrypt::hash("1234567890", 4).unwrap();
        assert!(is_legacy(&legacy));
        assert!(verify(&mut ctx(), "1234567890".into(), legacy.clone()).await);
        assert!(!verify(&mut ctx(), "123456789".into(), legacy).await);
        assert!(!verify(&mut ctx(), "x".into(), "not a hash".into()).await);
    }

    #[tokio::test]
    async fn hashes_are_those_of_the_argon2_crate() {
        // Ours verify with the crate's own verifier, and the crate's verify
        // with ours, also with other parameters than the default.
        let ours = hash(&mut ctx(), "correct horse".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 3, 1, None).unwrap(),
        );
        let theirs = small.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify(&mut ctx(), "pw".into(), theirs.clone()).await);
        assert!(!verify(&mut ctx(), "pW".into(), theirs).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_hashes_share_a_few_memories() {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        // More than one per core, within the queue (other tests hash too).
        let hashes: Vec<_> = (0..cores + 1)
            .map(|i| tokio::spawn(async move { hash(&mut ctx(), format!("pw{i}")).await }))
            .collect();
        for h in hashes {
            assert!(h.await.unwrap().unwrap().starts_with("$argon2id$"));
        }
        let kept = pool().memories.lock().unwrap().len();
        assert!(kept <= cores, "{kept} memories for {cores} cores");
    }
}
