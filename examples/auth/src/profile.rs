use std::collections::HashMap;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use concord::{ActionContext, Outputs, concept};

/// Output of `register` and `authenticate`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct UserOut {
    /// The user's id.
    pub user: String,
}

/// A row of `_getUsername`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct UsernameRow {
    /// The user's name.
    pub username: String,
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    password_hash: String,
}

/// **concept** Profile [User]
///
/// **purpose** let people prove who they are with a username and password
/// (the seeds' `authenticate (username, password) : (user)` shape).
///
/// **principle** after `register (username, password) : (user)`,
/// `authenticate (username, password)` yields the same `user`; any other
/// password yields an error, and a second registration of the username fails.
///
/// **state** a set of Users with a unique username and an Argon2id password
/// hash. The hash never leaves the concept.
#[derive(Debug, Default)]
pub struct Profile {
    accounts: Mutex<HashMap<String, Account>>,
}

const MIN_PASSWORD: usize = 8;

#[concept]
impl Profile {
    /// Creates a user; fails if the username is taken or the password short.
    pub async fn register(
        &self,
        ctx: &mut ActionContext,
        username: String,
        #[sensitive] password: String,
    ) -> Result<UserOut, String> {
        if username.trim().is_empty() {
            return Err("username must not be empty".into());
        }
        if password.chars().count() < MIN_PASSWORD {
            return Err(format!(
                "password must have at least {MIN_PASSWORD} characters"
            ));
        }
        if self.lock().contains_key(&username) {
            return Err(format!("username `{username}` is taken"));
        }
        let password_hash = hash(password).await?;
        let mut accounts = self.lock();
        // Checked again under the lock: another registration may have won
        // while the hash was computed.
        if accounts.contains_key(&username) {
            return Err(format!("username `{username}` is taken"));
        }
        let id = ctx.fresh_id();
        accounts.insert(
            username,
            Account {
                id: id.clone(),
                password_hash,
            },
        );
        Ok(UserOut { user: id })
    }

    /// Checks a username and password.
    pub async fn authenticate(
        &self,
        username: String,
        #[sensitive] password: String,
    ) -> Result<UserOut, String> {
        let account = self.lock().get(&username).cloned();
        let Some(account) = account else {
            return Err("invalid username or password".into());
        };
        if verify(password, account.password_hash).await {
            Ok(UserOut { user: account.id })
        } else {
            Err("invalid username or password".into())
        }
    }

    /// The username of a user.
    pub fn _get_username(&self, user: String) -> Vec<UsernameRow> {
        self.lock()
            .iter()
            .filter(|(_, a)| a.id == user)
            .map(|(name, _)| UsernameRow {
                username: name.clone(),
            })
            .collect()
    }
}

impl Profile {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Argon2id is deliberately slow; it runs off the async workers.
async fn hash(password: String) -> Result<String, String> {
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

async fn verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}
