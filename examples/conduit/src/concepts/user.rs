use concord::{ActionContext, Outputs, Query, QueryContext, StateError, Value, concept};
use concord_std::identity;
use serde::{Deserialize, Serialize};

/// Row of `_byUsername` and `_byEmail`: the user and what `_get` gives of
/// them, so that a flow that finds a user and then shows them reads them
/// once.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct FoundUser {
    /// The user's id.
    pub user: String,
    /// Public name, unique.
    pub username: String,
    /// Email address, unique.
    pub email: String,
}

/// Output of `User.register`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct Registered {
    /// The new user's id.
    pub user: String,
    /// The username as stored (trimmed).
    pub username: String,
    /// The email as stored (trimmed).
    pub email: String,
}

/// A row of `User._get`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct UserRow {
    /// Public name, unique.
    pub username: String,
    /// Email address, unique.
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDoc {
    /// As registered (trimmed), for display.
    username: String,
    email: String,
    /// What each is unique under: [`identity::key`].
    username_key: String,
    email_key: String,
}

impl UserDoc {
    fn new(username: String, email: String) -> Result<Self, String> {
        let key = |field: &str, value: &str| identity::key(value).map_err(|e| format!("{field} {e}"));
        Ok(UserDoc {
            username_key: key("username", &username)?,
            email_key: key("email", &email)?,
            username,
            email,
        })
    }
}

/// The unique field a user-facing field is compared under.
fn key_field(field: &str) -> &'static str {
    if field == "email" { "emailKey" } else { "usernameKey" }
}

/// **concept** User
///
/// **purpose** give each person one identity others can refer to by a
/// unique name, and reach by a unique email address.
///
/// **principle** after `register (username, email) : (user)`,
/// `_byUsername (username)` and `_byEmail (email)` yield `user`, and a second
/// registration with either the username or the email fails with
/// "… has already been taken".
///
/// **state** a set of Users (`User.users`) with a username and an email,
/// each kept as given and unique under its [`identity::key`]: names and
/// addresses that differ only in case, width or Unicode normalisation form
/// are one, and ones with invisible or control characters are refused.
/// Nothing about passwords, profiles or tokens: other concepts
/// keep those, keyed by the user id.
#[derive(Debug, Default)]
pub struct User;

fn taken(e: StateError) -> String {
    match e {
        StateError::Unique { field, .. } => {
            format!("{} has already been taken", field.trim_end_matches("Key"))
        }
        other => other.into(),
    }
}

#[concept(collection = "users", unique = "users.usernameKey", unique = "users.emailKey")]
impl User {
    /// Registers a new identity; blank or taken names and emails fail.
    pub async fn register(
        &self,
        ctx: &mut ActionContext,
        username: String,
        email: String,
    ) -> Result<Registered, String> {
        let doc = UserDoc::new(username.trim().to_string(), email.trim().to_string())?;
        let user = ctx.fresh_id();
        let mut users = ctx.collection::<UserDoc>("users");
        for (field, key) in [("username", &doc.username_key), ("email", &doc.email_key)] {
            if users.count(Query::eq(key_field(field), key)).await.map_err(taken)? > 0 {
                return Err(format!("{field} has already been taken"));
            }
        }
        users.insert(&user, &doc).await.map_err(taken)?;
        Ok(Registered {
            user,
            username: doc.username,
            email: doc.email,
        })
    }

    /// Changes the username and/or email (`null` keeps the current value).
    pub async fn update(
        &self,
        ctx: &mut ActionContext,
        user: String,
        username: Option<String>,
        email: Option<String>,
    ) -> Result<(), String> {
        let mut users = ctx.collection::<UserDoc>("users");
        let Some(mut doc) = users.get(&user).await.map_err(taken)? else {
            return Err("no such user".into());
        };
        for (field, value, shown, slot) in [
            ("username", username, &mut doc.username, &mut doc.username_key),
            ("email", email, &mut doc.email, &mut doc.email_key),
        ] {
            let Some(value) = value.map(|v| v.trim().to_string()) else {
                continue;
            };
            let key = identity::key(&value).map_err(|e| format!("{field} {e}"))?;
            if key != *slot && users.count(Query::eq(key_field(field), &key)).await.map_err(taken)? > 0 {
                return Err(format!("{field} has already been taken"));
            }
            (*shown, *slot) = (value, key);
        }
        users.replace(&user, &doc).await.map_err(taken)?;
        Ok(())
    }

    /// A user's username and email.
    #[batch(get_many)]
    pub async fn _get(&self, ctx: &QueryContext, user: String) -> Result<Vec<UserRow>, StateError> {
        let doc = ctx.collection::<UserDoc>("users").get(&user).await?;
        Ok(doc
            .map(|d| UserRow {
                username: d.username,
                email: d.email,
            })
            .into_iter()
            .collect())
    }

    async fn get_many(&self, ctx: &QueryContext, user: Vec<String>) -> Result<Vec<Vec<UserRow>>, StateError> {
        let found = ctx.collection::<UserDoc>("users").get_many(&user).await?;
        Ok(user
            .iter()
            .map(|u| {
                found
                    .get(u)
                    .map(|d| UserRow {
                        username: d.username.clone(),
                        email: d.email.clone(),
                    })
                    .into_iter()
                    .collect()
            })
            .collect())
    }

    /// The user with this username or a look-alike of it (none for an
    /// absent username, or one that is not a string: these come straight
    /// from requests).
    #[also_answers(_get)]
    pub async fn _by_username(
        &self,
        ctx: &QueryContext,
        username: Option<Value>,
    ) -> Result<Vec<FoundUser>, StateError> {
        by_key(ctx, "username", text(username)).await
    }

    /// The user with this email, in any case (none for an absent or
    /// non-string email).
    #[also_answers(_get)]
    pub async fn _by_email(&self, ctx: &QueryContext, email: Option<Value>) -> Result<Vec<FoundUser>, StateError> {
        by_key(ctx, "email", text(email)).await
    }
}

fn text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

async fn by_key(ctx: &QueryContext, field: &str, value: Option<String>) -> Result<Vec<FoundUser>, StateError> {
    let Some(key) = value.and_then(|v| identity::key(&v).ok()) else {
        return Ok(Vec::new());
    };
    let found = ctx
        .collection::<UserDoc>("users")
        .find_with_ids(Query::eq(key_field(field), key))
        .await?;
    Ok(found
        .into_iter()
        .map(|(user, d)| FoundUser {
            user,
            username: d.username,
            email: d.email,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use concord::testing::ConceptHarness;
    use serde_json::json;

    #[tokio::test]
    async fn usernames_and_emails_are_unique_and_never_blank() {
        let h = ConceptHarness::new(super::User).await;
        let ada = h
            .ok("register", json!({"username": " ada ", "email": "ada@x.io"}))
            .await;
        assert_eq!(
            (&ada["username"], &ada["email"]),
            (&json!("ada"), &json!("ada@x.io")),
            "trimmed"
        );
        let id = ada["user"].clone();
        assert_eq!(
            h.query("_get", json!({"user": id})).await,
            [json!({"username": "ada", "email": "ada@x.io"})]
        );
        assert_eq!(
            h.query("_byUsername", json!({"username": "ada"})).await,
            [json!({"user": id, "username": "ada", "email": "ada@x.io"})]
        );
        assert_eq!(
            h.query("_byEmail", json!({"email": "ada@x.io"})).await,
            [json!({"user": id, "username": "ada", "email": "ada@x.io"})]
        );
        assert!(
            h.query("_byUsername", json!({})).await.is_empty(),
            "no username, no user"
        );
        assert_eq!(
            h.err("register", json!({"username": "ada", "email": "other@x.io"}))
                .await,
            "username has already been taken"
        );
        assert_eq!(
            h.err("register", json!({"username": "bob", "email": "ada@x.io"})).await,
            "email has already been taken"
        );
        assert_eq!(
            h.err("register", json!({"username": "", "email": "b@x.io"})).await,
            "username can't be blank"
        );
        assert_eq!(
            h.err("register", json!({"username": "bob", "email": " "})).await,
            "email can't be blank"
        );
    }

    #[tokio::test]
    async fn updates_change_only_what_is_given() {
        let h = ConceptHarness::new(super::User).await;
        let ada = h.ok("register", json!({"username": "ada", "email": "ada@x.io"})).await["user"].clone();
        h.ok("register", json!({"username": "bob", "email": "bob@x.io"})).await;
        h.ok("update", json!({"user": ada, "email": "new@x.io"})).await;
        assert_eq!(
            h.query("_get", json!({"user": ada})).await,
            [json!({"username": "ada", "email": "new@x.io"})]
        );
        h.ok("update", json!({"user": ada, "username": "ada"})).await; // unchanged is not "taken"
        assert_eq!(
            h.err("update", json!({"user": ada, "username": "bob"})).await,
            "username has already been taken"
        );
        assert_eq!(
            h.err("update", json!({"user": ada, "email": ""})).await,
            "email can't be blank"
        );
        assert_eq!(h.err("update", json!({"user": "nobody"})).await, "no such user");
    }

    #[tokio::test]
    async fn look_alike_names_and_emails_are_taken() {
        let h = ConceptHarness::new(super::User).await;
        let ada = h.ok("register", json!({"username": "Ada", "email": "Ada@X.io"})).await["user"].clone();
        for (username, email, taken) in [
            ("ada", "other@x.io", "username"),
            ("ＡＤＡ", "other@x.io", "username"),
            ("bob", "ada@x.io", "email"),
            ("bob", "ADA@X.IO", "email"),
        ] {
            assert_eq!(
                h.err("register", json!({"username": username, "email": email})).await,
                format!("{taken} has already been taken"),
                "{username} {email}"
            );
        }
        assert_eq!(
            h.err("register", json!({"username": "a\u{200b}da", "email": "z@x.io"}))
                .await,
            "username contains an invisible or control character (U+200B)"
        );
        assert_eq!(
            h.query("_byEmail", json!({"email": "ADA@x.io"})).await,
            [json!({"user": ada, "username": "Ada", "email": "Ada@X.io"})]
        );
        assert_eq!(
            h.query("_byUsername", json!({"username": "ADA"})).await,
            [json!({"user": ada, "username": "Ada", "email": "Ada@X.io"})]
        );
        assert_eq!(
            h.query("_get", json!({"user": ada})).await,
            [json!({"username": "Ada", "email": "Ada@X.io"})],
            "shown as registered"
        );
        h.ok("update", json!({"user": ada, "username": "ADA"})).await; // a look-alike of oneself is not "taken"
        assert_eq!(h.query("_get", json!({"user": ada})).await[0]["username"], "ADA");
    }
}
