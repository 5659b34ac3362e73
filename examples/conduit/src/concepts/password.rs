use concord::std_concepts::password;
use concord::{ActionContext, Query, concept};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PasswordDoc {
    hash: String,
}

/// **concept** Password \[User\]
///
/// **purpose** let a user prove they are who they claim with a secret only
/// they know.
///
/// **principle** after `set (user, password)`, `check (user, password)`
/// succeeds and `check` with any other password fails; `update (user,
/// password)` replaces the secret, `update (user, null)` keeps it.
///
/// **state** an Argon2id hash per user (`Password.hashes`, keyed by the user
/// id). Hashes never leave the concept; passwords are redacted in the log.
#[derive(Debug, Default)]
pub struct Password;

/// The fewest characters a password may have (RealWorld v2).
pub const MIN_LENGTH: usize = 8;

#[concept(collection = "hashes")]
impl Password {
    /// Sets a user's password; a blank password, or one shorter than
    /// `MIN_LENGTH` (8) characters, fails.
    pub async fn set(
        &self,
        ctx: &mut ActionContext,
        user: String,
        #[sensitive] password: String,
    ) -> Result<(), String> {
        store(ctx, user, password).await
    }

    /// Replaces a user's password when one is given.
    pub async fn update(
        &self,
        ctx: &mut ActionContext,
        user: String,
        #[sensitive] password: Option<String>,
    ) -> Result<(), String> {
        match password {
            Some(password) => store(ctx, user, password).await,
            None => Ok(()),
        }
    }

    /// Succeeds when `password` is the user's password.
    pub async fn check(
        &self,
        ctx: &mut ActionContext,
        user: String,
        #[sensitive] password: String,
    ) -> Result<(), String> {
        // Read before the slow hash check without holding a write transaction.
        let found = ctx
            .collection::<PasswordDoc>("hashes")
            .find_committed(Query::id(&user).limit(1))
            .await
            .map_err(|e| e.to_string())?;
        let Some(doc) = found.into_iter().next() else {
            return Err("invalid credentials".into());
        };
        if password::verify(ctx, password, doc.hash).await {
            Ok(())
        } else {
            Err("invalid credentials".into())
        }
    }
}

async fn store(ctx: &mut ActionContext, user: String, password: String) -> Result<(), String> {
    if password.trim().is_empty() {
        return Err("password can't be blank".into());
    }
    if password.chars().count() < MIN_LENGTH {
        return Err(format!("password is too short (minimum is {MIN_LENGTH} characters)"));
    }
    let doc = PasswordDoc {
        hash: password::hash(ctx, password).await?,
    };
    let mut hashes = ctx.collection::<PasswordDoc>("hashes");
    if !hashes.replace(&user, &doc).await.map_err(|e| e.to_string())? {
        hashes.insert(&user, &doc).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use concord::testing::ConceptHarness;
    use serde_json::json;

    #[tokio::test]
    async fn only_the_current_password_checks() {
        let h = ConceptHarness::new(super::Password).await;
        h.ok("set", json!({"user": "u1", "password": "first one"})).await;
        h.ok("check", json!({"user": "u1", "password": "first one"})).await;
        assert_eq!(
            h.err("check", json!({"user": "u1", "password": "wrong"})).await,
            "invalid credentials"
        );
        assert_eq!(
            h.err("check", json!({"user": "u2", "password": "first one"})).await,
            "invalid credentials"
        );
        h.ok("update", json!({"user": "u1"})).await;
        h.ok("check", json!({"user": "u1", "password": "first one"})).await; // null keeps it
        h.ok("update", json!({"user": "u1", "password": "second one"})).await;
        h.ok("check", json!({"user": "u1", "password": "second one"})).await;
        assert!(
            h.act("check", json!({"user": "u1", "password": "first one"}))
                .await
                .is_error()
        );
        assert_eq!(
            h.err("set", json!({"user": "u3", "password": "  "})).await,
            "password can't be blank"
        );
        assert_eq!(
            h.err("set", json!({"user": "u3", "password": "seven77"})).await,
            "password is too short (minimum is 8 characters)"
        );
        h.ok("set", json!({"user": "u3", "password": "x".repeat(64)})).await;
    }
}
