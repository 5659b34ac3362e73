use std::time::Duration;

use concord_concept::{ActionContext, Query, QueryContext, StateError};
use serde::{Deserialize, Serialize};

/// The output of `Sessioning.create`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct SessionOut {
    /// The new session's id.
    pub session: String,
}

/// A row of `Sessioning._getUser`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct UserRow {
    /// The session's user.
    pub user: String,
}

/// A stored session; its id is the SHA-256 digest of the session token, so
/// that a copy of the database holds no live session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionDoc {
    user: String,
    /// Milliseconds since the Unix epoch.
    expires_at: i64,
}

/// The **Sessioning** concept (its purpose, principle and state are on
/// its `impl` block, which is what `concord-std`'s reference page shows).
#[derive(Debug, Clone)]
pub struct Sessioning {
    lifetime: Duration,
    one_per_user: bool,
}

impl Default for Sessioning {
    fn default() -> Self {
        Self::new()
    }
}

fn failure(e: StateError) -> String {
    format!("sessions are unavailable: {e}")
}

#[concord_macros::concept(
    crate = concord_concept,
    collection = "sessions",
    index = "sessions.user",
    sensitive = "session"
)]
/// **concept** Sessioning \[User\]
///
/// **purpose** keep a user logged in across requests.
///
/// **principle** after `create (user) : (session)`, `_getUser (session)`
/// yields `user` until the session is deleted or expires; afterwards it
/// yields nothing.
///
/// **state** a set of Sessions (`Sessioning.sessions`), each with a user and
/// an expiry time. The session token is 256 random bits from the operating
/// system, hex-encoded; only its SHA-256 digest is stored (the document id),
/// and tokens are looked up by digest. Session tokens are bearer secrets:
/// traces and the log show them as `<redacted>`. (Sessions created before
/// tokens were stored as digests no longer match any token: their users log
/// in again.)
impl Sessioning {
    /// Starts a session for `user`.
    pub async fn create(&self, ctx: &mut ActionContext, user: String) -> Result<SessionOut, String> {
        let session = fresh_token();
        let mut sessions = ctx.collection::<SessionDoc>("sessions");
        if self.one_per_user {
            sessions.delete(Query::eq("user", &user)).await.map_err(failure)?;
        }
        let doc = SessionDoc {
            user,
            expires_at: now_ms() + self.lifetime.as_millis() as i64,
        };
        sessions.insert(&digest(&session), &doc).await.map_err(failure)?;
        Ok(SessionOut { session })
    }

    /// Ends a session; fails if there is no such (unexpired) session.
    pub async fn delete(&self, ctx: &mut ActionContext, session: String) -> Result<(), String> {
        let mut sessions = ctx.collection::<SessionDoc>("sessions");
        let id = digest(&session);
        let live = sessions
            .get(&id)
            .await
            .map_err(failure)?
            .is_some_and(|s| s.expires_at > now_ms());
        sessions.delete(Query::id(&id)).await.map_err(failure)?;
        if live {
            Ok(())
        } else {
            Err("no such session".to_string())
        }
    }

    /// The user of a live session (no rows if unknown or expired).
    pub async fn _get_user(&self, ctx: &QueryContext, session: String) -> Result<Vec<UserRow>, StateError> {
        let found = ctx.collection::<SessionDoc>("sessions").get(&digest(&session)).await?;
        Ok(found
            .filter(|s| s.expires_at > now_ms())
            .map(|s| UserRow { user: s.user })
            .into_iter()
            .collect())
    }
}

impl Sessioning {
    /// Sessions that last 24 hours; several per user allowed.
    pub fn new() -> Self {
        Sessioning {
            lifetime: Duration::from_secs(24 * 60 * 60),
            one_per_user: false,
        }
    }

    /// Sets how long a session lasts.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Creating a session ends the user's other sessions.
    pub fn one_session_per_user(mut self) -> Self {
        self.one_per_user = true;
        self
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The stored id of a session token.
fn digest(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    // Without an OS random source no secure token can exist; the engine turns
    // this panic into the action's error outcome.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator is unavailable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{commit, store_for};
    use concord_concept::{Concept, FlowId, Outcome, Record, RecordId, Value};
    use std::sync::Arc;

    async fn store() -> Arc<dyn concord_store::Backend> {
        store_for(&Sessioning::new()).await
    }

    /// Runs an action and commits its writes, as the engine does.
    async fn act(
        s: &Sessioning,
        store: &Arc<dyn concord_store::Backend>,
        action: &str,
        key: &str,
        value: &str,
    ) -> Outcome {
        let mut ctx = ActionContext::with_state(FlowId::fresh(), RecordId::fresh(), "Sessioning".into(), store.clone());
        let mut input = Record::new();
        input.insert(key.into(), Value::from(value));
        let outcome = s.perform(&mut ctx, action, &input).await;
        commit(&outcome, &mut ctx).await;
        outcome
    }

    async fn user_of(s: &Sessioning, store: &Arc<dyn concord_store::Backend>, session: &str) -> Vec<UserRow> {
        let ctx = QueryContext::with_state(FlowId::fresh(), "Sessioning".into(), Some(store.clone()));
        s._get_user(&ctx, session.to_string()).await.unwrap()
    }

    fn session_of(o: Outcome) -> String {
        match o {
            Outcome::Success(r) => r["session"].as_str().unwrap().to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn sessions_resolve_until_deleted() {
        let (s, store) = (Sessioning::new(), store().await);
        let a = session_of(act(&s, &store, "create", "user", "ada").await);
        assert_eq!(a.len(), 64);
        assert_eq!(user_of(&s, &store, &a).await, vec![UserRow { user: "ada".into() }]);
        assert_eq!(
            act(&s, &store, "delete", "session", &a).await,
            Outcome::Success(Record::new())
        );
        assert!(user_of(&s, &store, &a).await.is_empty());
        assert_eq!(
            act(&s, &store, "delete", "session", &a).await,
            Outcome::Error("no such session".into())
        );
    }

    #[tokio::test]
    async fn sessions_expire() {
        let (s, store) = (Sessioning::new().lifetime(Duration::ZERO), store().await);
        let a = session_of(act(&s, &store, "create", "user", "ada").await);
        assert!(user_of(&s, &store, &a).await.is_empty());
        assert!(act(&s, &store, "delete", "session", &a).await.is_error());
    }

    #[tokio::test]
    async fn one_session_per_user_ends_the_others() {
        let (s, store) = (Sessioning::new().one_session_per_user(), store().await);
        let first = session_of(act(&s, &store, "create", "user", "ada").await);
        let second = session_of(act(&s, &store, "create", "user", "ada").await);
        let other = session_of(act(&s, &store, "create", "user", "bob").await);
        assert_ne!(first, second);
        assert!(user_of(&s, &store, &first).await.is_empty());
        assert_eq!(user_of(&s, &store, &second).await.len(), 1);
        assert_eq!(user_of(&s, &store, &other).await.len(), 1);
    }

    #[tokio::test]
    async fn the_store_holds_digests_not_tokens() {
        let (s, store) = (Sessioning::new(), store().await);
        let token = session_of(act(&s, &store, "create", "user", "ada").await);
        let concord_concept::state::OpResult::Docs(rows) = store
            .read(concord_concept::state::Op::Find {
                collection: "Sessioning.sessions".into(),
                query: Query::all(),
            })
            .await
            .unwrap()
        else {
            panic!("not documents")
        };
        assert_eq!(rows.len(), 1);
        let (id, doc) = &rows[0];
        assert_eq!(id, &digest(&token));
        assert!(!id.contains(&token) && !doc.to_string().contains(&token));
        // The stored id is not itself a token: presenting it finds nothing.
        assert!(user_of(&s, &store, id).await.is_empty());
        assert_eq!(user_of(&s, &store, &token).await.len(), 1);
    }

    #[test]
    fn declares_its_collection() {
        let spec = Sessioning::new().spec();
        assert_eq!(spec.collections[0].name, "Sessioning.sessions");
        assert_eq!(spec.collections[0].indexes, ["user"]);
    }
}
