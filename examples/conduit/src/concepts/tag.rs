use std::collections::HashMap;

use concord::{ActionContext, Cond, Outputs, Query, QueryContext, StateError, Value, concept};
use serde::{Deserialize, Serialize};

/// A row of `Tag._tagsOf` and `Tag._all`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct TagsRow {
    /// Tags, sorted, without duplicates.
    pub tags: Vec<String>,
}

/// A row of `Tag._targets`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct TargetRow {
    /// Something carrying the tag.
    pub target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TagDoc {
    tag: String,
    target: String,
}

/// **concept** Tag \[Target\]
///
/// **purpose** let things be found by topic.
///
/// **principle** after `tag (target, tags)`, `_tagsOf (target)` yields the
/// tags sorted and `_targets (tag)` includes target for each of them; tagging
/// again replaces the tags (`null` keeps them); `attach (target, tags)` tags
/// a target that has none as `tag` would; `untagAll (target)` removes
/// them; `_all` lists every tag in use.
///
/// **state** a set of (tag, target) links (`Tag.links`).
#[derive(Debug, Default)]
pub struct Tag;

#[concept(collection = "links", index = "links.tag", index = "links.target")]
impl Tag {
    /// Sets the tags of a target (`null` keeps them).
    pub async fn tag(&self, ctx: &mut ActionContext, target: String, tags: Option<Vec<String>>) -> Result<(), String> {
        let Some(tags) = tags else {
            return Ok(());
        };
        let mut links = ctx.collection::<TagDoc>("links");
        links.delete(Query::eq("target", &target)).await?;
        insert_links(&mut links, &target, tags).await
    }

    /// Tags a target that has no tags yet (a new one). It only inserts:
    /// unlike `tag`, it reads nothing, so on PostgreSQL concurrent taggings
    /// of new targets cannot conflict (`tag`'s read of the target's links
    /// locks the index page every new target's links go to, and
    /// serializable transactions that read and write one page abort each
    /// other). A tag the target already has is an error.
    pub async fn attach(&self, ctx: &mut ActionContext, target: String, tags: Vec<String>) -> Result<(), String> {
        let mut links = ctx.collection::<TagDoc>("links");
        insert_links(&mut links, &target, tags).await
    }

    /// Removes every tag of a target.
    pub async fn untag_all(&self, ctx: &mut ActionContext, target: String) -> Result<(), String> {
        ctx.collection::<TagDoc>("links")
            .delete(Query::eq("target", &target))
            .await?;
        Ok(())
    }

    /// The tags of a target, sorted (`[]` for none).
    #[batch(tags_of_many)]
    pub async fn _tags_of(&self, ctx: &QueryContext, target: String) -> Result<TagsRow, StateError> {
        let links = ctx
            .collection::<TagDoc>("links")
            .find(Query::eq("target", &target).sort("tag", true))
            .await?;
        Ok(TagsRow {
            tags: links.into_iter().map(|l| l.tag).collect(),
        })
    }

    async fn tags_of_many(&self, ctx: &QueryContext, target: Vec<String>) -> Result<Vec<TagsRow>, StateError> {
        let among = Cond::In("target".into(), target.iter().cloned().map(Value::String).collect());
        let mut tags: HashMap<String, Vec<String>> = HashMap::new();
        for link in ctx
            .collection::<TagDoc>("links")
            .find(Query::all().and(among).sort("tag", true))
            .await?
        {
            tags.entry(link.target).or_default().push(link.tag);
        }
        Ok(target
            .into_iter()
            .map(|t| TagsRow {
                tags: tags.get(&t).cloned().unwrap_or_default(),
            })
            .collect())
    }

    /// Everything carrying `tag` (nothing for an absent tag).
    pub async fn _targets(&self, ctx: &QueryContext, tag: Option<String>) -> Result<Vec<TargetRow>, StateError> {
        let Some(tag) = tag else {
            return Ok(Vec::new());
        };
        let links = ctx.collection::<TagDoc>("links").find(Query::eq("tag", &tag)).await?;
        Ok(links.into_iter().map(|l| TargetRow { target: l.target }).collect())
    }

    /// Every tag in use, sorted.
    pub async fn _all(&self, ctx: &QueryContext) -> Result<TagsRow, StateError> {
        // Answered from the index on `links.tag`, not by reading every link.
        let tags = ctx
            .collection::<TagDoc>("links")
            .distinct("tag", Query::all())
            .await?
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        Ok(TagsRow { tags })
    }
}

/// Links `target` to each of `tags`, trimmed, without blanks or duplicates.
async fn insert_links(
    links: &mut concord::Collection<'_, TagDoc>,
    target: &str,
    tags: Vec<String>,
) -> Result<(), String> {
    let mut tags: Vec<String> = tags
        .into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags.dedup();
    for tag in tags {
        let id = format!("{target}:{tag}");
        let doc = TagDoc {
            tag,
            target: target.to_string(),
        };
        links.insert(&id, &doc).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use concord::testing::ConceptHarness;
    use serde_json::json;

    #[tokio::test]
    async fn tags_are_sorted_deduplicated_and_replaced() {
        let h = ConceptHarness::new(super::Tag).await;
        h.ok("tag", json!({"target": "a1", "tags": ["rust", "design", "rust", " "]}))
            .await;
        h.ok("tag", json!({"target": "a2", "tags": ["rust"]})).await;
        assert_eq!(
            h.query("_tagsOf", json!({"target": "a1"})).await,
            [json!({"tags": ["design", "rust"]})]
        );
        assert_eq!(h.query("_all", json!({})).await, [json!({"tags": ["design", "rust"]})]);
        assert_eq!(
            h.query("_targets", json!({"tag": "rust"})).await,
            [json!({"target": "a1"}), json!({"target": "a2"})]
        );
        assert!(h.query("_targets", json!({})).await.is_empty());
        h.ok("tag", json!({"target": "a1"})).await; // null keeps them
        assert_eq!(
            h.query("_tagsOf", json!({"target": "a1"})).await,
            [json!({"tags": ["design", "rust"]})]
        );
        h.ok("tag", json!({"target": "a1", "tags": ["zen"]})).await;
        assert_eq!(
            h.query("_tagsOf", json!({"target": "a1"})).await,
            [json!({"tags": ["zen"]})]
        );
        h.ok("untagAll", json!({"target": "a1"})).await;
        assert_eq!(h.query("_tagsOf", json!({"target": "a1"})).await, [json!({"tags": []})]);
        assert_eq!(h.query("_all", json!({})).await, [json!({"tags": ["rust"]})]);
    }
}
