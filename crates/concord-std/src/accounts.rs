//! Username-and-password accounts in a concept's collection: the shared
//! machinery of concepts that authenticate people (`UserAuthentication`, and
//! apps' own concepts with the seeds' `authenticate` shape). Each concept
//! keeps its own collection; nothing is shared between concepts at run time.

use concord_concept::{ActionContext, Query, QueryContext, StateError};
use serde::{Deserialize, Serialize};

use crate::{identity, password};

/// A stored account; the document id is the user id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountDoc {
    #[serde(rename = "_id", default, skip_serializing)]
    id: String,
    /// As the person typed it (trimmed), for display.
    username: String,
    /// What the username is unique under ([`identity::key`]). Absent in
    /// accounts stored before keys existed; their first login adds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username_key: Option<String>,
    password_hash: String,
}

/// The field of a concept's collection that must be declared unique
/// (`unique = "<collection>.usernameKey"`).
pub const UNIQUE_FIELD: &str = "usernameKey";

/// The account a username names: by its key, or (for an account stored
/// before keys existed) by the exact name.
async fn find_account(
    collection: &mut concord_concept::state::Collection<'_, AccountDoc>,
    username: &str,
    committed: bool,
) -> Result<Option<AccountDoc>, StateError> {
    let Ok(key) = identity::key(username) else {
        return Ok(None);
    };
    for query in [Query::eq(UNIQUE_FIELD, &key), Query::eq("username", username.trim())] {
        let query = query.limit(1);
        let found = if committed {
            collection.find_committed(query).await?
        } else {
            collection.find(query).await?
        };
        if let Some(account) = found.into_iter().next()
            && account.username_key.as_ref().is_none_or(|k| *k == key)
        {
            return Ok(Some(account));
        }
    }
    Ok(None)
}

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD: usize = 8;

/// The answer to a wrong username or password (the same for both).
pub const INVALID: &str = "invalid username or password";

fn unavailable(e: StateError) -> String {
    format!("accounts are unavailable: {e}")
}

/// Creates an account in `collection`; returns the new user id. Fails if the
/// username is blank, holds an invisible or control character, or is taken
/// — by itself or by a look-alike (one [`identity::key`]; decided by the
/// collection's unique index on [`UNIQUE_FIELD`], so it holds under any
/// concurrency) — or the password is short.
pub async fn register(
    ctx: &mut ActionContext,
    collection: &str,
    username: String,
    password: String,
) -> Result<String, String> {
    let username = username.trim().to_string();
    let key = match identity::key(&username) {
        Ok(key) => key,
        Err(identity::IdentityError::Blank) => return Err("username must not be empty".into()),
        Err(e) => return Err(format!("username {e}")),
    };
    if password.chars().count() < MIN_PASSWORD {
        return Err(format!("password must have at least {MIN_PASSWORD} characters"));
    }
    // Hash before touching state: the slow part holds no transaction.
    let password_hash = password::hash(ctx, password).await?;
    let id = ctx.fresh_id();
    let mut accounts = ctx.collection::<AccountDoc>(collection);
    // An account stored before keys existed has no key for the index to see.
    if find_account(&mut accounts, &username, false)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        return Err(format!("username `{username}` is taken"));
    }
    let doc = AccountDoc {
        id: String::new(),
        username: username.clone(),
        username_key: Some(key),
        password_hash,
    };
    match accounts.insert(&id, &doc).await {
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
    let found = find_account(&mut ctx.collection::<AccountDoc>(collection), username, true)
        .await
        .map_err(unavailable)?;
    let Some(account) = found else {
        return Err(INVALID.into());
    };
    if !password::verify(ctx, password.clone(), account.password_hash.clone()).await {
        return Err(INVALID.into());
    }
    let mut upgrade = serde_json::Map::new();
    if password::is_legacy(&account.password_hash) {
        upgrade.insert("passwordHash".into(), password::hash(ctx, password).await?.into());
    }
    if account.username_key.is_none()
        && let Ok(key) = identity::key(&account.username)
    {
        upgrade.insert(UNIQUE_FIELD.into(), key.into());
    }
    if !upgrade.is_empty() {
        ctx.collection::<AccountDoc>(collection)
            .update(Query::id(&account.id), upgrade)
            .await
            .map_err(unavailable)?;
    }
    Ok(account.id)
}

/// The user id of a username or a look-alike of it (`None` if there is no
/// such account).
pub async fn user_of(ctx: &QueryContext, collection: &str, username: &str) -> Result<Option<String>, StateError> {
    Ok(
        find_account(&mut ctx.collection::<AccountDoc>(collection), username, false)
            .await?
            .map(|a| a.id),
    )
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
/// system (for migrations and tests); returns nothing new. It gets its
/// username key at its first login, as accounts stored before keys did.
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
        username_key: None,
        password_hash: password_hash.to_string(),
    };
    ctx.collection::<AccountDoc>(collection).insert(id, &doc).await
}

/// The stored hash of a username, for tests that check upgrades.
#[doc(hidden)]
pub async fn stored_hash(ctx: &mut ActionContext, collection: &str, username: &str) -> Option<String> {
    find_account(&mut ctx.collection::<AccountDoc>(collection), username, true)
        .await
        .ok()?
        .map(|a| a.password_hash)
}
