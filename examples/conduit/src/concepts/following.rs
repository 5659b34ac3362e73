use concord::{ActionContext, Outputs, Query, QueryContext, StateError, concept};
use serde::{Deserialize, Serialize};

/// A row of `Following._isFollowing`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct FollowingRow {
    /// Whether the follower follows the followee.
    pub following: bool,
}

/// A row of `Following._followees`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct FolloweeRow {
    /// Someone the follower follows.
    pub followee: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FollowDoc {
    follower: String,
    followee: String,
}

/// **concept** Following \[User\]
///
/// **purpose** let people keep up with the people they choose.
///
/// **principle** after `follow (follower, followee)`, `_isFollowing
/// (follower, followee)` is true and `_followees (follower)` includes
/// followee, until `unfollow (follower, followee)`. Following twice is
/// following once.
///
/// **state** a set of (follower, followee) pairs (`Following.follows`).
#[derive(Debug, Default)]
pub struct Following;

fn pair_id(follower: &str, followee: &str) -> String {
    format!("{follower}:{followee}")
}

#[concept(collection = "follows", index = "follows.follower")]
impl Following {
    /// Starts following; already following is fine.
    pub async fn follow(&self, ctx: &mut ActionContext, follower: String, followee: String) -> Result<(), String> {
        let id = pair_id(&follower, &followee);
        let mut follows = ctx.collection::<FollowDoc>("follows");
        if follows.get(&id).await.map_err(|e| e.to_string())?.is_none() {
            follows
                .insert(&id, &FollowDoc { follower, followee })
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Stops following; not following is fine.
    pub async fn unfollow(&self, ctx: &mut ActionContext, follower: String, followee: String) -> Result<(), String> {
        let id = pair_id(&follower, &followee);
        ctx.collection::<FollowDoc>("follows")
            .delete_one(Query::id(&id))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Whether `follower` follows `followee` (false for an absent follower).
    #[batch(is_following_many)]
    pub async fn _is_following(
        &self,
        ctx: &QueryContext,
        follower: Option<String>,
        followee: String,
    ) -> Result<FollowingRow, StateError> {
        let following = match follower {
            Some(follower) => {
                let id = pair_id(&follower, &followee);
                ctx.collection::<FollowDoc>("follows").count(Query::id(&id)).await? > 0
            }
            None => false,
        };
        Ok(FollowingRow { following })
    }

    async fn is_following_many(
        &self,
        ctx: &QueryContext,
        follower: Vec<Option<String>>,
        followee: Vec<String>,
    ) -> Result<Vec<FollowingRow>, StateError> {
        let pairs: Vec<Option<String>> = follower
            .iter()
            .zip(&followee)
            .map(|(f, e)| f.as_ref().map(|f| pair_id(f, e)))
            .collect();
        let ids: Vec<String> = pairs.iter().flatten().cloned().collect();
        let follows = ctx.collection::<FollowDoc>("follows").existing(&ids).await?;
        Ok(pairs
            .into_iter()
            .map(|p| FollowingRow {
                following: p.is_some_and(|p| follows.contains(&p)),
            })
            .collect())
    }

    /// Everyone `follower` follows.
    pub async fn _followees(&self, ctx: &QueryContext, follower: String) -> Result<Vec<FolloweeRow>, StateError> {
        let docs = ctx
            .collection::<FollowDoc>("follows")
            .find(Query::eq("follower", follower))
            .await?;
        Ok(docs.into_iter().map(|d| FolloweeRow { followee: d.followee }).collect())
    }
}

#[cfg(test)]
mod tests {
    use concord::testing::ConceptHarness;
    use serde_json::json;

    #[tokio::test]
    async fn follow_is_idempotent_and_undone_by_unfollow() {
        let h = ConceptHarness::new(super::Following).await;
        let pair = json!({"follower": "a", "followee": "b"});
        h.ok("follow", pair.clone()).await;
        h.ok("follow", pair.clone()).await;
        h.ok("follow", json!({"follower": "a", "followee": "c"})).await;
        assert_eq!(
            h.query("_isFollowing", pair.clone()).await,
            [json!({"following": true})]
        );
        assert_eq!(
            h.query("_isFollowing", json!({"follower": "b", "followee": "a"})).await,
            [json!({"following": false})]
        );
        assert_eq!(
            h.query("_isFollowing", json!({"followee": "b"})).await,
            [json!({"following": false})]
        );
        assert_eq!(
            h.query("_followees", json!({"follower": "a"})).await,
            [json!({"followee": "b"}), json!({"followee": "c"})]
        );
        h.ok("unfollow", pair.clone()).await;
        h.ok("unfollow", pair.clone()).await;
        assert_eq!(h.query("_isFollowing", pair).await, [json!({"following": false})]);
    }
}
