use concord::std_concepts::password;
use concord::{ActionContext, Outputs, Query, QueryContext, StateError, concept};
use serde::{Deserialize, Serialize};

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

/// A stored user; the id is the user id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDoc {
    #[serde(rename = "_id", default, skip_serializing)]
    id: String,
    username: String,
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
/// **state** a set of Users (`Profile.users`) with a unique username and an
/// Argon2id password hash. The hash never leaves the concept.
#[derive(Debug, Default)]
pub struct Profile;

const MIN_PASSWORD: usize = 8;

fn unavailable(e: StateError) -> String {
    format!("accounts are unavailable: {e}")
}

#[concept(collection = "users", unique = "users.username")]
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
            return Err(format!("password must have at least {MIN_PASSWORD} characters"));
        }
        // Hash before touching state, so the slow part holds no transaction;
        // the database's unique index decides who gets the name.
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
    pub async fn authenticate(
        &self,
        ctx: &mut ActionContext,
        username: String,
        #[sensitive] password: String,
    ) -> Result<UserOut, String> {
        // A read-only lookup: committed state, no transaction held while
        // the hash is checked.
        let found = ctx
            .collection::<UserDoc>("users")
            .find_committed(Query::eq("username", &username).limit(1))
            .await
            .map_err(unavailable)?;
        let Some(user) = found.into_iter().next() else {
            return Err("invalid username or password".into());
        };
        if password::verify(password, user.password_hash).await {
            Ok(UserOut { user: user.id })
        } else {
            Err("invalid username or password".into())
        }
    }

    /// The user with this username.
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

    /// The username of a user.
    pub async fn _get_username(&self, ctx: &QueryContext, user: String) -> Result<Vec<UsernameRow>, StateError> {
        let found = ctx.collection::<UserDoc>("users").get(&user).await?;
        Ok(found
            .map(|u| UsernameRow { username: u.username })
            .into_iter()
            .collect())
    }
}
