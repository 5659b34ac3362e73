//! Password hashing: Argon2id for new hashes; bcrypt hashes (from the
//! reference stack) are verified and should be replaced on the next login.
//! Both are deliberately slow, so they run off the async workers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// An Argon2id hash of `password` in PHC string form.
pub async fn hash(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| format!("hashing failed: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Whether `password` matches `hash` (Argon2 PHC string or bcrypt `$2…`).
pub async fn verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        if is_legacy(&hash) {
            bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
        } else {
            PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        }
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

    #[tokio::test]
    async fn argon2id_and_bcrypt() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse".into(), h.clone()).await);
        assert!(!verify("wrong horse".into(), h).await);
        let legacy = bcrypt::hash("1234567890", 4).unwrap();
        assert!(is_legacy(&legacy));
        assert!(verify("1234567890".into(), legacy.clone()).await);
        assert!(!verify("123456789".into(), legacy).await);
        assert!(!verify("x".into(), "not a hash".into()).await);
    }
}
