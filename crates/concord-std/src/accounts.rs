//! Username-and-password accounts in a concept's collection: the shared
//! machinery of concepts that authenticate people (`UserAuthentication`, and
//! apps' own concepts with the seeds' `authenticate` shape). Each concept
//! keeps its own collection; nothing is shared between concepts at run time.

use concord_concept::{ActionContext, Query, QueryContext, StateError};
use serde::{Deserialize, Serialize};

use crate::password;

/// A stored account; the document id is the user id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountDoc {
    #[serde(rename = "_id", default, skip_serializing)]
    id: String,
    username: String,
    password_hash: String,
}

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD: usize = 8;

/// The answer to a wrong username or password (the same for both).
pub const INVALID: &str = "invalid username or password";

fn unavailable(e: StateError) -> String {
    format!("accounts are unavailable: {e}")
}

/// Creates an account in `collection`; returns the new user id. Fails if the
/// username is empty or taken (decided by the collection's unique index on
/// `username`, so it holds under any concurrency) or the password is short.
pub async fn register(
    ctx: &mut ActionContext,
    collection: &str,
    username: String,
    password: String,
) -> Result<String, String> {
    if username.trim().is_empty() {
        return Err("username must not be empty".into());
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!("password must have at least {MIN_PASSWORD} characters"));
    }
    // Hash before touching state: the slow part holds no transaction.
    let password_hash = password::hash(password).await?;
    let id = ctx.fresh_id();
    let doc = AccountDoc {
        id: String::new(),
        username: username.clone(),
        password_hash,
    };
    match ctx.collection::<AccountDoc>(collection).insert(&id, &doc).await {
        Ok(()) => Ok(id),
        Err(e) if e.is_unique_violation() => Err(format!("username `{username}` is taken")),
        Err(e) => Err(unavailable(e)),
    }
}

/// Checks a username and password; returns the user id. A bcrypt hash
/// (imported from the reference stack) is replaced by Argon2id on success.
pub async fn check(
    ctx: &mut ActionContext,
    collection: &str,
    username: &str,
    password: String,
) -> Result<String, String> {
    // Committed state, no transaction held while the hash is checked.
    let found = ctx
        .collection::<AccountDoc>(collection)
        .find_committed(Query::eq("username", username).limit(1))
        .await
        .map_err(unavailable)?;
    let Some(account) = found.into_iter().next() else {
        return Err(INVALID.into());
    };
    if !password::verify(password.clone(), account.password_hash.clone()).await {
        return Err(INVALID.into());
    }
    if password::is_legacy(&account.password_hash) {
        let upgraded = password::hash(password).await?;
        ctx.collection::<AccountDoc>(collection)
            .update(Query::id(&account.id), serde_json::json!({ "passwordHash": upgraded }))
            .await
            .map_err(unavailable)?;
    }
    Ok(account.id)
}

/// The user id of a username (`None` if there is no such account).
pub async fn user_of(ctx: &QueryContext, collection: &str, username: &str) -> Result<Option<String>, StateError> {
    let found = ctx
        .collection::<AccountDoc>(collection)
        .find(Query::eq("username", username).limit(1))
        .await?;
    Ok(found.into_iter().next().map(|a| a.id))
}

/// The username of a user id (`None` if there is no such account).
pub async fn username_of(ctx: &QueryContext, collection: &str, user: &str) -> Result<Option<String>, StateError> {
    Ok(ctx
        .collection::<AccountDoc>(collection)
        .get(user)
        .await?
        .map(|a| a.username))
}

/// Stores an account with an existing hash, as imported from another
/// system (for migrations and tests); returns nothing new.
pub async fn import(
    ctx: &mut ActionContext,
    collection: &str,
    id: &str,
    username: &str,
    password_hash: &str,
) -> Result<(), StateError> {
    let doc = AccountDoc {
        id: String::new(),
        username: username.to_string(),
        password_hash: password_hash.to_string(),
    };
    ctx.collection::<AccountDoc>(collection).insert(id, &doc).await
}

/// The stored hash of a username, for tests that check upgrades.
#[doc(hidden)]
pub async fn stored_hash(ctx: &mut ActionContext, collection: &str, username: &str) -> Option<String> {
    let found = ctx
        .collection::<AccountDoc>(collection)
        .find_committed(Query::eq("username", username).limit(1))
        .await
        .ok()?;
    found.into_iter().next().map(|a| a.password_hash)
}
