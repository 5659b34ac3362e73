use std::collections::HashMap;

use concord::{ActionContext, Cond, Outputs, Query, QueryContext, StateError, Value, concept};
use serde::{Deserialize, Serialize};

/// A row of `Favorite._count`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct CountRow {
    /// How many users favor the target.
    pub count: u64,
}

/// A row of `Favorite._isFavorite`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct FavoriteRow {
    /// Whether the user favors the target.
    pub favorited: bool,
}

/// A row of `Favorite._targetsOf`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct TargetRow {
    /// Something the user favors.
    pub target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FavoriteDoc {
    user: String,
    target: String,
}

/// **concept** Favorite \[User, Target\]
///
/// **purpose** let people mark what they like, and show how liked things are.
///
/// **principle** after `add (user, target)`, `_isFavorite (user, target)` is
/// true and `_count (target)` has grown by one; adding again changes nothing;
/// `remove` undoes it; `removeAll (target)` forgets a target.
///
/// **state** a set of (user, target) pairs (`Favorite.favorites`).
#[derive(Debug, Default)]
pub struct Favorite;

fn pair_id(user: &str, target: &str) -> String {
    format!("{user}:{target}")
}

#[concept(collection = "favorites", index = "favorites.user", index = "favorites.target")]
impl Favorite {
    /// Marks a target as a user's favorite; already marked is fine.
    pub async fn add(&self, ctx: &mut ActionContext, user: String, target: String) -> Result<(), String> {
        let id = pair_id(&user, &target);
        let mut favorites = ctx.collection::<FavoriteDoc>("favorites");
        if favorites.get(&id).await?.is_none() {
            favorites.insert(&id, &FavoriteDoc { user, target }).await?;
        }
        Ok(())
    }

    /// Unmarks it; not marked is fine.
    pub async fn remove(&self, ctx: &mut ActionContext, user: String, target: String) -> Result<(), String> {
        ctx.collection::<FavoriteDoc>("favorites")
            .delete_one(Query::id(&pair_id(&user, &target)))
            .await?;
        Ok(())
    }

    /// Forgets every favorite of a target.
    pub async fn remove_all(&self, ctx: &mut ActionContext, target: String) -> Result<(), String> {
        ctx.collection::<FavoriteDoc>("favorites")
            .delete(Query::eq("target", &target))
            .await?;
        Ok(())
    }

    /// How many users favor a target.
    #[batch(count_many)]
    pub async fn _count(&self, ctx: &QueryContext, target: String) -> Result<CountRow, StateError> {
        let count = ctx
            .collection::<FavoriteDoc>("favorites")
            .count(Query::eq("target", &target))
            .await?;
        Ok(CountRow { count })
    }

    /// Whether a user favors a target (false for an absent user).
    #[batch(is_favorite_many)]
    pub async fn _is_favorite(
        &self,
        ctx: &QueryContext,
        user: Option<String>,
        target: String,
    ) -> Result<FavoriteRow, StateError> {
        let favorited = match user {
            Some(user) => {
                ctx.collection::<FavoriteDoc>("favorites")
                    .count(Query::id(&pair_id(&user, &target)))
                    .await?
                    > 0
            }
            None => false,
        };
        Ok(FavoriteRow { favorited })
    }

    async fn count_many(&self, ctx: &QueryContext, target: Vec<String>) -> Result<Vec<CountRow>, StateError> {
        let among = Cond::In("target".into(), target.iter().cloned().map(Value::String).collect());
        let counts: HashMap<Value, u64> = ctx
            .collection::<FavoriteDoc>("favorites")
            .count_by("target", Query::all().and(among))
            .await?
            .into_iter()
            .collect();
        Ok(target
            .into_iter()
            .map(|t| CountRow {
                count: counts.get(&Value::String(t)).copied().unwrap_or(0),
            })
            .collect())
    }

    async fn is_favorite_many(
        &self,
        ctx: &QueryContext,
        user: Vec<Option<String>>,
        target: Vec<String>,
    ) -> Result<Vec<FavoriteRow>, StateError> {
        let pairs: Vec<Option<String>> = user
            .iter()
            .zip(&target)
            .map(|(u, t)| u.as_ref().map(|u| pair_id(u, t)))
            .collect();
        let ids: Vec<String> = pairs.iter().flatten().cloned().collect();
        let marked = ctx.collection::<FavoriteDoc>("favorites").existing(&ids).await?;
        Ok(pairs
            .into_iter()
            .map(|p| FavoriteRow {
                favorited: p.is_some_and(|p| marked.contains(&p)),
            })
            .collect())
    }

    /// Everything a user favors (nothing for an absent user).
    pub async fn _targets_of(&self, ctx: &QueryContext, user: Option<String>) -> Result<Vec<TargetRow>, StateError> {
        let Some(user) = user else {
            return Ok(Vec::new());
        };
        let favorites = ctx
            .collection::<FavoriteDoc>("favorites")
            .find(Query::eq("user", &user))
            .await?;
        Ok(favorites.into_iter().map(|f| TargetRow { target: f.target }).collect())
    }
}

#[cfg(test)]
mod tests {
    use concord::testing::ConceptHarness;
    use serde_json::json;

    #[tokio::test]
    async fn favorites_count_once_per_user() {
        let h = ConceptHarness::new(super::Favorite).await;
        h.ok("add", json!({"user": "u1", "target": "t"})).await;
        h.ok("add", json!({"user": "u1", "target": "t"})).await;
        h.ok("add", json!({"user": "u2", "target": "t"})).await;
        h.ok("add", json!({"user": "u1", "target": "t2"})).await;
        assert_eq!(h.query("_count", json!({"target": "t"})).await, [json!({"count": 2})]);
        assert_eq!(
            h.query("_isFavorite", json!({"user": "u1", "target": "t"})).await,
            [json!({"favorited": true})]
        );
        assert_eq!(
            h.query("_isFavorite", json!({"target": "t"})).await,
            [json!({"favorited": false})]
        );
        assert_eq!(
            h.query("_targetsOf", json!({"user": "u1"})).await,
            [json!({"target": "t"}), json!({"target": "t2"})]
        );
        h.ok("remove", json!({"user": "u1", "target": "t"})).await;
        h.ok("remove", json!({"user": "u1", "target": "t"})).await;
        assert_eq!(h.query("_count", json!({"target": "t"})).await, [json!({"count": 1})]);
        h.ok("removeAll", json!({"target": "t"})).await;
        assert_eq!(h.query("_count", json!({"target": "t"})).await, [json!({"count": 0})]);
        assert_eq!(h.query("_count", json!({"target": "t2"})).await, [json!({"count": 1})]);
    }
}
