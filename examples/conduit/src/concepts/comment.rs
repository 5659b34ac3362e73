use concord::{ActionContext, Outputs, Query, QueryContext, StateError, concept};
use serde::{Deserialize, Serialize};

use concord::time::{iso, now_millis};

/// Output of `Comment.add`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct CommentId {
    /// The new comment's number.
    pub comment: i64,
}

/// A row of `Comment._get` and `Comment._of`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct CommentRow {
    /// The comment's number.
    pub comment: i64,
    /// What it comments on.
    pub target: String,
    /// Who wrote it.
    pub author: String,
    /// Its text.
    pub body: String,
    /// ISO 8601 with milliseconds.
    pub created_at: String,
    /// ISO 8601 with milliseconds.
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentDoc {
    number: i64,
    target: String,
    author: String,
    body: String,
    created_at: i64,
}

/// **concept** Comment \[User, Target\]
///
/// **purpose** let people respond to something publicly.
///
/// **principle** after `add (target, author, body) : (comment)`, `_of
/// (target)` includes the comment and `_get (comment)` yields it, until
/// `delete (comment)` or `removeAll (target)`.
///
/// **state** a set of Comments (`Comment.comments`), each with a unique
/// number (1, 2, 3, … — the API shows comment ids as integers), a target,
/// an author, a body and a creation time.
#[derive(Debug, Default)]
pub struct Comment;

fn row(d: CommentDoc) -> CommentRow {
    CommentRow {
        comment: d.number,
        target: d.target,
        author: d.author,
        body: d.body,
        created_at: iso(d.created_at),
        updated_at: iso(d.created_at),
    }
}

#[concept(collection = "comments", unique = "comments.number", index = "comments.target")]
impl Comment {
    /// Adds a comment; a blank body fails.
    pub async fn add(
        &self,
        ctx: &mut ActionContext,
        target: String,
        author: String,
        body: String,
    ) -> Result<CommentId, String> {
        if body.trim().is_empty() {
            return Err("body can't be blank".into());
        }
        let mut comments = ctx.collection::<CommentDoc>("comments");
        // The next number inside the action's transaction: two concurrent adds
        // conflict and one is re-run, so numbers are never reused.
        let last = comments.find(Query::all().sort("number", false).limit(1)).await?;
        let number = last.first().map_or(1, |c| c.number + 1);
        let doc = CommentDoc {
            number,
            target,
            author,
            body,
            created_at: now_millis(),
        };
        comments.insert(&number.to_string(), &doc).await?;
        Ok(CommentId { comment: number })
    }

    /// Removes a comment.
    pub async fn delete(&self, ctx: &mut ActionContext, comment: i64) -> Result<(), String> {
        let removed = ctx
            .collection::<CommentDoc>("comments")
            .delete_one(Query::id(&comment.to_string()))
            .await?;
        if removed { Ok(()) } else { Err("no such comment".into()) }
    }

    /// Removes every comment on a target.
    pub async fn remove_all(&self, ctx: &mut ActionContext, target: String) -> Result<(), String> {
        ctx.collection::<CommentDoc>("comments")
            .delete(Query::eq("target", &target))
            .await?;
        Ok(())
    }

    /// A comment (none for an absent or unknown number).
    pub async fn _get(&self, ctx: &QueryContext, comment: Option<i64>) -> Result<Vec<CommentRow>, StateError> {
        let Some(comment) = comment else {
            return Ok(Vec::new());
        };
        let doc = ctx
            .collection::<CommentDoc>("comments")
            .get(&comment.to_string())
            .await?;
        Ok(doc.map(row).into_iter().collect())
    }

    /// The comments on a target, oldest first.
    pub async fn _of(&self, ctx: &QueryContext, target: String) -> Result<Vec<CommentRow>, StateError> {
        let docs = ctx
            .collection::<CommentDoc>("comments")
            .find(Query::eq("target", &target).sort("number", true))
            .await?;
        Ok(docs.into_iter().map(row).collect())
    }
}

#[cfg(test)]
mod tests {
    use concord::testing::ConceptHarness;
    use serde_json::json;

    #[tokio::test]
    async fn comments_are_numbered_and_listed_oldest_first() {
        let h = ConceptHarness::new(super::Comment).await;
        let first = h
            .ok("add", json!({"target": "a", "author": "u1", "body": "First"}))
            .await;
        let second = h
            .ok("add", json!({"target": "a", "author": "u2", "body": "Second"}))
            .await;
        h.ok("add", json!({"target": "b", "author": "u1", "body": "Elsewhere"}))
            .await;
        assert_eq!(
            (first["comment"].clone(), second["comment"].clone()),
            (json!(1), json!(2))
        );
        let listed = h.query("_of", json!({"target": "a"})).await;
        let bodies: Vec<_> = listed.iter().map(|c| c["body"].clone()).collect();
        assert_eq!(bodies, [json!("First"), json!("Second")]);
        assert_eq!(listed[0]["createdAt"], listed[0]["updatedAt"]);
        assert_eq!(h.query("_get", json!({"comment": 2})).await[0]["author"], json!("u2"));
        assert!(h.query("_get", json!({})).await.is_empty());
        assert_eq!(
            h.err("add", json!({"target": "a", "author": "u1", "body": " "})).await,
            "body can't be blank"
        );
        h.ok("delete", json!({"comment": 1})).await;
        assert_eq!(h.err("delete", json!({"comment": 1})).await, "no such comment");
        let third = h
            .ok("add", json!({"target": "a", "author": "u1", "body": "Third"}))
            .await;
        assert_eq!(third["comment"], json!(4), "numbers are never reused");
        h.ok("removeAll", json!({"target": "a"})).await;
        assert!(h.query("_of", json!({"target": "a"})).await.is_empty());
        assert_eq!(h.query("_of", json!({"target": "b"})).await.len(), 1);
    }
}
