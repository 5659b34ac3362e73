use concord_concept::{ActionContext, Query, QueryContext, StateError};
use serde::{Deserialize, Serialize};

use crate::password;

/// Output of `register` and `login`, and row of `_getUserByUsername`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct UserOut {
    /// The user's id.
    pub user: String,
}

/// A row of `_getUsername`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct UsernameRow {
    /// The user's name.
    pub username: String,
}

/// A stored user; the document id is the user id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDoc {
    #[serde(rename = "_id", default, skip_serializing)]
    id: String,
    username: String,
    password_hash: String,
}

/// **concept** UserAuthentication [User]
///
/// **purpose** let people register with a username and password and prove
/// who they are later.
///
/// **principle** after `register (username, password) : (user)`,
/// `login (username, password)` yields the same `user`; a wrong password
/// yields an error; a second registration of the username fails, however
/// many arrive at once.
///
/// **state** a set of Users (`UserAuthentication.users`) with a unique
/// username and a password hash (Argon2id; bcrypt hashes imported from the
/// reference stack are accepted and replaced by Argon2id at the next login).
/// Hashes never leave the concept; passwords are redacted in traces and logs.
#[derive(Debug, Clone, Default)]
pub struct UserAuthentication;

const MIN_PASSWORD: usize = 8;
const INVALID: &str = "invalid username or password";

fn unavailable(e: StateError) -> String {
    format!("accounts are unavailable: {e}")
}

#[concord_macros::concept(crate = concord_concept, collection = "users", unique = "users.username")]
impl UserAuthentication {
    /// Creates a user; fails if the username is taken or the password is
    /// shorter than 8 characters.
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
            return Err(format!("password must have at least {MIN_PASSWORD} characters"));
        }
        // Hash before touching state: the slow part holds no transaction,
        // and the unique index decides who gets the name.
        let password_hash = password::hash(password).await?;
        let id = ctx.fresh_id();
        let doc = UserDoc {
            id: String::new(),
            username: username.clone(),
            password_hash,
        };
        match ctx.collection::<UserDoc>("users").insert(&id, &doc).await {
            Ok(()) => Ok(UserOut { user: id }),
            Err(e) if e.is_unique_violation() => Err(format!("username `{username}` is taken")),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Checks a username and password.
    pub async fn login(
        &self,
        ctx: &mut ActionContext,
        username: String,
        #[sensitive] password: String,
    ) -> Result<UserOut, String> {
        let found = ctx
            .collection::<UserDoc>("users")
            .find_committed(Query::eq("username", &username).limit(1))
            .await
            .map_err(unavailable)?;
        let Some(user) = found.into_iter().next() else {
            return Err(INVALID.into());
        };
        if !password::verify(password.clone(), user.password_hash.clone()).await {
            return Err(INVALID.into());
        }
        if password::is_legacy(&user.password_hash) {
            let upgraded = password::hash(password).await?;
            ctx.collection::<UserDoc>("users")
                .update(Query::id(&user.id), serde_json::json!({ "passwordHash": upgraded }))
                .await
                .map_err(unavailable)?;
        }
        Ok(UserOut { user: user.id })
    }

    /// The user with this username (no rows if none).
    pub async fn _get_user_by_username(
        &self,
        ctx: &QueryContext,
        username: String,
    ) -> Result<Vec<UserOut>, StateError> {
        let found = ctx
            .collection::<UserDoc>("users")
            .find(Query::eq("username", &username).limit(1))
            .await?;
        Ok(found.into_iter().map(|u| UserOut { user: u.id }).collect())
    }

    /// The username of a user (no rows if none).
    pub async fn _get_username(&self, ctx: &QueryContext, user: String) -> Result<Vec<UsernameRow>, StateError> {
        let found = ctx.collection::<UserDoc>("users").get(&user).await?;
        Ok(found
            .map(|u| UsernameRow { username: u.username })
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_concept::state::LogEntry;
    use concord_concept::{Concept, FlowId, Outcome, Record, RecordId, Value};
    use std::sync::Arc;

    async fn store() -> Arc<dyn concord_store::Backend> {
        let store = concord_store::open("sqlite::memory:").await.unwrap();
        store
            .ensure_collections(UserAuthentication.spec().collections)
            .await
            .unwrap();
        store
    }

    fn entry() -> LogEntry {
        LogEntry {
            id: RecordId::fresh().to_string(),
            flow: FlowId::fresh().to_string(),
            seq: 0,
            concept: "UserAuthentication".into(),
            action: "test".into(),
            input: Record::new(),
            error: false,
            output: Record::new(),
            sync: None,
            matched: Vec::new(),
            started_at: 0,
            completed_at: 0,
        }
    }

    async fn act(store: &Arc<dyn concord_store::Backend>, action: &str, username: &str, password: &str) -> Outcome {
        let mut ctx = ActionContext::with_state(
            FlowId::fresh(),
            RecordId::fresh(),
            "UserAuthentication".into(),
            store.clone(),
        );
        let mut input = Record::new();
        input.insert("username".into(), Value::from(username));
        input.insert("password".into(), Value::from(password));
        let outcome = UserAuthentication.perform(&mut ctx, action, &input).await;
        if let (Outcome::Success(_), Some(tx)) = (&outcome, ctx.take_transaction()) {
            tx.commit(entry()).await.unwrap();
        }
        outcome
    }

    #[tokio::test]
    async fn register_then_login() {
        let s = store().await;
        let Outcome::Success(reg) = act(&s, "register", "ada", "correct horse").await else {
            panic!()
        };
        assert_eq!(
            act(&s, "register", "ada", "other password").await,
            Outcome::Error("username `ada` is taken".into())
        );
        assert_eq!(
            act(&s, "register", "bob", "short").await,
            Outcome::Error("password must have at least 8 characters".into())
        );
        assert_eq!(act(&s, "login", "ada", "correct horse").await, Outcome::Success(reg));
        assert_eq!(
            act(&s, "login", "ada", "wrong horse").await,
            Outcome::Error(INVALID.into())
        );
        assert_eq!(
            act(&s, "login", "nobody", "correct horse").await,
            Outcome::Error(INVALID.into())
        );
    }

    #[tokio::test]
    async fn bcrypt_users_from_the_reference_log_in_and_are_rehashed() {
        let s = store().await;
        // An account as the reference stack stored it.
        let mut ctx = ActionContext::with_state(
            FlowId::fresh(),
            RecordId::fresh(),
            "UserAuthentication".into(),
            s.clone(),
        );
        let legacy = UserDoc {
            id: String::new(),
            username: "bob".into(),
            password_hash: bcrypt::hash("1234567890", 4).unwrap(),
        };
        ctx.collection::<UserDoc>("users")
            .insert("u-bob", &legacy)
            .await
            .unwrap();
        ctx.take_transaction().unwrap().commit(entry()).await.unwrap();

        let out = act(&s, "login", "bob", "1234567890").await;
        assert_eq!(
            out,
            Outcome::Success(Record::from_iter([("user".to_string(), Value::from("u-bob"))]))
        );
        let mut ctx = ActionContext::with_state(
            FlowId::fresh(),
            RecordId::fresh(),
            "UserAuthentication".into(),
            s.clone(),
        );
        let stored = ctx.collection::<UserDoc>("users").get("u-bob").await.unwrap().unwrap();
        assert!(
            stored.password_hash.starts_with("$argon2id$"),
            "re-hashed: {}",
            stored.password_hash
        );
        drop(ctx);
        assert!(
            !act(&s, "login", "bob", "1234567890").await.is_error(),
            "still logs in after the upgrade"
        );
    }

    #[test]
    fn passwords_are_sensitive() {
        let spec = UserAuthentication.spec();
        assert!(spec.action("login").unwrap().param("password").unwrap().sensitive);
        assert!(spec.action("register").unwrap().param("password").unwrap().sensitive);
    }
}
