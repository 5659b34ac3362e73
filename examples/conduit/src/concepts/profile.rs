use concord::{ActionContext, Outputs, QueryContext, StateError, concept};
use serde::{Deserialize, Serialize};

/// A row of `Profile._get`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct ProfileRow {
    /// Free text about the user, `null` until set.
    pub bio: Option<String>,
    /// URL of the user's picture, `null` until set.
    pub image: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ProfileDoc {
    bio: Option<String>,
    image: Option<String>,
}

/// **concept** Profile \[User\]
///
/// **purpose** let users say something about themselves.
///
/// **principle** a user's bio and image are `null` until `update (user,
/// bio, image)` sets them; `_get (user)` then yields them; `null` in an
/// update keeps the current value and a blank one clears it.
///
/// **state** a bio and an image per user (`Profile.profiles`, keyed by the
/// user id).
#[derive(Debug, Default)]
pub struct Profile;

#[concept(collection = "profiles")]
impl Profile {
    /// Sets the bio and/or image (`null` keeps the current value, a blank
    /// string clears it to `null`).
    pub async fn update(
        &self,
        ctx: &mut ActionContext,
        user: String,
        bio: Option<String>,
        image: Option<String>,
    ) -> Result<(), String> {
        let mut profiles = ctx.collection::<ProfileDoc>("profiles");
        let existing = profiles.get(&user).await.map_err(|e| e.to_string())?;
        let mut doc = existing.clone().unwrap_or_default();
        let set = |given: Option<String>, current: Option<String>| match given {
            None => current,
            Some(text) if text.trim().is_empty() => None,
            Some(text) => Some(text),
        };
        doc.bio = set(bio, doc.bio);
        doc.image = set(image, doc.image);
        let result = if existing.is_some() {
            profiles.replace(&user, &doc).await.map(drop)
        } else {
            profiles.insert(&user, &doc).await
        };
        result.map_err(|e| e.to_string())
    }

    /// A user's bio and image (both `null` for a user who set neither).
    #[batch(get_many)]
    pub async fn _get(&self, ctx: &QueryContext, user: String) -> Result<ProfileRow, StateError> {
        let doc = ctx
            .collection::<ProfileDoc>("profiles")
            .get(&user)
            .await?
            .unwrap_or_default();
        Ok(ProfileRow {
            bio: doc.bio,
            image: doc.image,
        })
    }

    async fn get_many(&self, ctx: &QueryContext, user: Vec<String>) -> Result<Vec<ProfileRow>, StateError> {
        let found = ctx.collection::<ProfileDoc>("profiles").get_many(&user).await?;
        Ok(user
            .iter()
            .map(|u| {
                let doc = found.get(u).cloned().unwrap_or_default();
                ProfileRow {
                    bio: doc.bio,
                    image: doc.image,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use concord::testing::ConceptHarness;
    use serde_json::json;

    #[tokio::test]
    async fn bio_and_image_are_null_until_set_and_kept_when_null() {
        let h = ConceptHarness::new(super::Profile).await;
        assert_eq!(
            h.query("_get", json!({"user": "u"})).await,
            [json!({"bio": null, "image": null})]
        );
        h.ok("update", json!({"user": "u", "bio": "hello"})).await;
        h.ok("update", json!({"user": "u", "image": "https://x.io/u.png"}))
            .await;
        assert_eq!(
            h.query("_get", json!({"user": "u"})).await,
            [json!({"bio": "hello", "image": "https://x.io/u.png"})]
        );
        h.ok("update", json!({"user": "u", "bio": "  "})).await;
        assert_eq!(
            h.query("_get", json!({"user": "u"})).await,
            [json!({"bio": null, "image": "https://x.io/u.png"})],
            "a blank bio clears it"
        );
    }
}
