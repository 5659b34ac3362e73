//! Standard concepts shipped with concord.
//!
//! * [`Requesting`]: external requests as actions, answered at most once.
//! * [`Sessioning`]: sessions for users, identified by unguessable tokens.
//! * [`UserAuthentication`]: usernames and passwords (Argon2id; verifies and
//!   upgrades bcrypt hashes imported from the reference stack).
//! * [`Jwt`] (`JWT` in syncs): HS256 JSON Web Tokens for stateless sessions.
//!
//! * [`identity`]: the key usernames and emails are unique under, so that
//!   look-alikes are one identity.
//!
//! Sessioning and UserAuthentication keep their state in the app's store;
//! Requesting's pending requests live in the process.

pub mod accounts;
pub mod identity;
mod jwt;
pub mod password;
mod requesting;
mod sessioning;
mod user_authentication;

pub use jwt::{Jwt, JwtSecretError, MIN_SECRET, SubjectRow, TokenOut};
pub use requesting::{RequestOut, Requesting, Response};
pub use sessioning::{SessionOut, Sessioning, UserRow};
pub use user_authentication::{UserAuthentication, UserOut, UsernameRow};

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use concord_concept::state::LogEntry;
    use concord_concept::{ActionContext, Concept, FlowId, Outcome, Record, RecordId};

    /// An in-memory store with the concept's collections.
    pub async fn store_for(concept: &dyn Concept) -> Arc<dyn concord_store::Backend> {
        let store = concord_store::open("sqlite::memory:").await.unwrap();
        store.ensure_collections(concept.spec().collections).await.unwrap();
        store
    }

    /// Commits an action's writes on success, as the engine does.
    pub async fn commit(outcome: &Outcome, ctx: &mut ActionContext) {
        if let (Outcome::Success(_), Some(tx)) = (outcome, ctx.take_transaction()) {
            let entry = LogEntry {
                id: RecordId::fresh().to_string(),
                flow: FlowId::fresh().to_string(),
                seq: 0,
                concept: "Test".into(),
                action: "test".into(),
                input: Record::new(),
                error: false,
                output: Record::new(),
                sync: None,
                matched: Vec::new(),
                started_at: 0,
                completed_at: 0,
                kept: true,
            };
            tx.commit(vec![entry]).await.unwrap();
        }
    }
}
