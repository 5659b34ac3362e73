use concord::std_concepts::{UserOut, UsernameRow, accounts};
use concord::{ActionContext, QueryContext, StateError, concept};

/// **concept** Profile \[User\]
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

#[concept(collection = "users", unique = "users.username")]
impl Profile {
    /// Creates a user; fails if the username is taken or the password short.
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
    pub async fn authenticate(
        &self,
        ctx: &mut ActionContext,
        username: String,
        #[sensitive] password: String,
    ) -> Result<UserOut, String> {
        let user = accounts::check(ctx, "users", &username, password).await?;
        Ok(UserOut { user })
    }

    /// The user with this username.
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

    /// The username of a user.
    pub async fn _get_username(&self, ctx: &QueryContext, user: String) -> Result<Vec<UsernameRow>, StateError> {
        let name = accounts::username_of(ctx, "users", &user).await?;
        Ok(name.map(|username| UsernameRow { username }).into_iter().collect())
    }
}
