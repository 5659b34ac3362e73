use concord_concept::{ActionContext, QueryContext, StateError};

use crate::accounts;

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

/// The **UserAuthentication** concept (its purpose, principle and state are on
/// its `impl` block, which is what `concord-std`'s reference page shows).
#[derive(Debug, Clone, Default)]
pub struct UserAuthentication;

#[concord_macros::concept(crate = concord_concept, collection = "users", unique = "users.usernameKey")]
/// **concept** UserAuthentication \[User\]
///
/// **purpose** let people register with a username and password and prove
/// who they are later.
///
/// **principle** after `register (username, password) : (user)`,
/// `login (username, password)` yields the same `user`; a wrong password
/// yields an error; a second registration of the username, or of a
/// look-alike of it (another case, width or Unicode normalisation form),
/// fails, however many arrive at once; a username with an invisible or
/// control character is refused.
///
/// **state** a set of Users (`UserAuthentication.users`) with a username as
/// typed, the unique key it is compared under
/// ([`identity::key`](crate::identity::key)), and a password hash (Argon2id; bcrypt hashes imported from the
/// reference stack are accepted and replaced by Argon2id at the next login).
/// Hashes never leave the concept; passwords are redacted in traces and logs.
impl UserAuthentication {
    /// Creates a user; fails if the username is taken or the password is
    /// shorter than 8 characters.
    pub async fn register(
        &self,
        ctx: &mut ActionContext,
        username: String,
        #[sensitive] password: String,
    ) -> Result<UserOut, String> {
        let user = accounts::register(ctx, "users", username, password).await?;
        Ok(UserOut { user })
    }

    /// Checks a username and password.
    pub async fn login(
        &self,
        ctx: &mut ActionContext,
        username: String,
        #[sensitive] password: String,
    ) -> Result<UserOut, String> {
        let user = accounts::check(ctx, "users", &username, password).await?;
        Ok(UserOut { user })
    }

    /// The user with this username (no rows if none).
    pub async fn _get_user_by_username(
        &self,
        ctx: &QueryContext,
        username: String,
    ) -> Result<Vec<UserOut>, StateError> {
        Ok(accounts::user_of(ctx, "users", &username)
            .await?
            .map(|user| UserOut { user })
            .into_iter()
            .collect())
    }

    /// The username of a user (no rows if none).
    pub async fn _get_username(&self, ctx: &QueryContext, user: String) -> Result<Vec<UsernameRow>, StateError> {
        let name = accounts::username_of(ctx, "users", &user).await?;
        Ok(name.map(|username| UsernameRow { username }).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{commit, store_for};
    use concord_concept::{Concept, FlowId, Outcome, Record, RecordId, Value};
    use std::sync::Arc;

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
        commit(&outcome, &mut ctx).await;
        outcome
    }

    #[tokio::test]
    async fn register_then_login() {
        let s = store_for(&UserAuthentication).await;
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
            Outcome::Error(accounts::INVALID.into())
        );
        assert_eq!(
            act(&s, "login", "nobody", "correct horse").await,
            Outcome::Error(accounts::INVALID.into())
        );
    }

    #[tokio::test]
    async fn bcrypt_users_from_the_reference_log_in_and_are_rehashed() {
        let s = store_for(&UserAuthentication).await;
        let mut ctx = ActionContext::with_state(
            FlowId::fresh(),
            RecordId::fresh(),
            "UserAuthentication".into(),
            s.clone(),
        );
        let legacy = bcrypt::hash("1234567890", 4).unwrap();
        accounts::import(&mut ctx, "users", "u-bob", "bob", &legacy)
            .await
            .unwrap();
        commit(&Outcome::Success(Record::new()), &mut ctx).await;

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
        let stored = accounts::stored_hash(&mut ctx, "users", "bob").await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "re-hashed: {stored}");
        assert!(
            !act(&s, "login", "bob", "1234567890").await.is_error(),
            "still logs in after the upgrade"
        );
    }

    #[tokio::test]
    async fn look_alike_usernames_are_one_identity() {
        let s = store_for(&UserAuthentication).await;
        let Outcome::Success(reg) = act(&s, "register", "José", "correct horse").await else {
            panic!()
        };
        for look_alike in ["jose\u{301}", "JOSÉ", "ｊｏｓé"] {
            assert_eq!(
                act(&s, "register", look_alike, "other password").await,
                Outcome::Error(format!("username `{look_alike}` is taken")),
            );
            assert_eq!(
                act(&s, "login", look_alike, "correct horse").await,
                Outcome::Success(reg.clone())
            );
        }
        assert_eq!(
            act(&s, "register", "jo\u{200b}sé", "other password").await,
            Outcome::Error("username contains an invisible or control character (U+200B)".into())
        );
        let ctx = QueryContext::with_state(FlowId::fresh(), "UserAuthentication".into(), Some(s.clone()));
        let shown = UserAuthentication.query(&ctx, "_getUsername", &reg).await;
        assert_eq!(
            shown.unwrap()[0].get("username"),
            Some(&Value::from("José")),
            "shown as typed"
        );
    }

    #[tokio::test]
    async fn accounts_stored_before_keys_get_one_at_their_first_login() {
        let s = store_for(&UserAuthentication).await;
        let mut ctx = ActionContext::with_state(
            FlowId::fresh(),
            RecordId::fresh(),
            "UserAuthentication".into(),
            s.clone(),
        );
        let hash = crate::password::hash(
            &mut ActionContext::new(FlowId::fresh(), RecordId::fresh()),
            "correct horse".into(),
        )
        .await
        .unwrap();
        accounts::import(&mut ctx, "users", "u-old", "Old", &hash)
            .await
            .unwrap();
        commit(&Outcome::Success(Record::new()), &mut ctx).await;
        assert_eq!(
            act(&s, "register", "Old", "other password").await,
            Outcome::Error("username `Old` is taken".into()),
            "found by its exact name"
        );
        assert!(act(&s, "login", "OLD", "correct horse").await.is_error(), "no key yet");
        assert!(!act(&s, "login", "Old", "correct horse").await.is_error());
        assert!(!act(&s, "login", "OLD", "correct horse").await.is_error(), "keyed now");
        assert!(act(&s, "register", "old", "other password").await.is_error());
    }

    #[test]
    fn passwords_are_sensitive() {
        let spec = UserAuthentication.spec();
        assert!(spec.action("login").unwrap().param("password").unwrap().sensitive);
        assert!(spec.action("register").unwrap().param("password").unwrap().sensitive);
    }
}
