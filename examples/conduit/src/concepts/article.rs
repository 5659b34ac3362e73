use concord::{ActionContext, Cond, Outputs, Query, QueryContext, StateError, Value, concept};
use serde::{Deserialize, Serialize};

use concord::time::{iso, now_millis};

/// Output of `Article.create`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct ArticleRef {
    /// The article's id.
    pub article: String,
    /// Its URL name, unique.
    pub slug: String,
    /// Its author's id.
    pub author: String,
}

/// A row of `Article._get`, `_bySlug` and `_list`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct ArticleRow {
    /// The article's id.
    pub article: String,
    /// Its URL name.
    pub slug: String,
    /// Title.
    pub title: String,
    /// One-line summary.
    pub description: String,
    /// Text (Markdown).
    pub body: String,
    /// The author's id.
    pub author: String,
    /// ISO 8601 with milliseconds.
    pub created_at: String,
    /// ISO 8601 with milliseconds; changes on every update.
    pub updated_at: String,
}

/// A row of `Article._count`.
#[derive(Debug, Clone, PartialEq, Eq, Outputs)]
pub struct CountRow {
    /// How many articles match (all pages).
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArticleDoc {
    slug: String,
    title: String,
    description: String,
    body: String,
    author: String,
    created_at: i64,
    updated_at: i64,
}

/// **concept** Article \[User\]
///
/// **purpose** publish writing under a stable, readable address.
///
/// **principle** after `create (author, title, description, body) :
/// (article, slug)`, `_bySlug (slug)` yields the article and `_get` its
/// fields; `update` changes fields and `updatedAt`; after `delete` the slug
/// yields nothing. `_list` pages through articles newest first.
///
/// **state** a set of Articles (`Article.articles`) with a unique slug, a
/// title, description, body, an author, and creation and update times.
/// Tags, favorites and comments are other concepts' business: they refer to
/// articles by id.
#[derive(Debug, Default)]
pub struct Article;

/// `How to train your dragon` → `how-to-train-your-dragon`.
fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

fn row(article: String, d: ArticleDoc) -> ArticleRow {
    ArticleRow {
        article,
        slug: d.slug,
        title: d.title,
        description: d.description,
        body: d.body,
        author: d.author,
        created_at: iso(d.created_at),
        updated_at: iso(d.updated_at),
    }
}

/// Articles by any of `authors` (all authors when `None`) among `among` (all
/// when `None`).
fn selection(authors: Option<Vec<String>>, among: Option<Vec<String>>) -> Query {
    let mut q = Query::all();
    if let Some(authors) = authors {
        q = q.and(Cond::In(
            "author".into(),
            authors.into_iter().map(Value::String).collect(),
        ));
    }
    if let Some(among) = among {
        q = q.and(Cond::IdIn(among));
    }
    q
}

#[concept(
    collection = "articles",
    unique = "articles.slug",
    index = "articles.author",
    index = "articles.createdAt"
)]
impl Article {
    /// Publishes an article; its slug is the title's words plus a random
    /// suffix, so equal titles never collide.
    pub async fn create(
        &self,
        ctx: &mut ActionContext,
        author: String,
        title: String,
        description: String,
        body: String,
    ) -> Result<ArticleRef, String> {
        for (field, value) in [("title", &title), ("description", &description), ("body", &body)] {
            if value.trim().is_empty() {
                return Err(format!("{field} can't be blank"));
            }
        }
        let article = ctx.fresh_id();
        let suffix = &article[article.len() - 8..];
        let slug = match slugify(&title) {
            s if s.is_empty() => suffix.to_string(),
            s => format!("{s}-{suffix}"),
        };
        let now = now_millis();
        let doc = ArticleDoc {
            slug: slug.clone(),
            title,
            description,
            body,
            author: author.clone(),
            created_at: now,
            updated_at: now,
        };
        ctx.collection::<ArticleDoc>("articles").insert(&article, &doc).await?;
        Ok(ArticleRef { article, slug, author })
    }

    /// Changes the given fields (`null` keeps one) and the update time.
    pub async fn update(
        &self,
        ctx: &mut ActionContext,
        article: String,
        title: Option<String>,
        description: Option<String>,
        body: Option<String>,
    ) -> Result<(), String> {
        let mut articles = ctx.collection::<ArticleDoc>("articles");
        let Some(mut doc) = articles.get(&article).await? else {
            return Err("no such article".into());
        };
        for (field, value, slot) in [
            ("title", title, &mut doc.title),
            ("description", description, &mut doc.description),
            ("body", body, &mut doc.body),
        ] {
            if let Some(value) = value {
                if value.trim().is_empty() {
                    return Err(format!("{field} can't be blank"));
                }
                *slot = value;
            }
        }
        // Strictly later, so a client always sees updatedAt change.
        doc.updated_at = now_millis().max(doc.updated_at + 1);
        articles.replace(&article, &doc).await?;
        Ok(())
    }

    /// Removes an article.
    pub async fn delete(&self, ctx: &mut ActionContext, article: String) -> Result<(), String> {
        let removed = ctx
            .collection::<ArticleDoc>("articles")
            .delete_one(Query::id(&article))
            .await?;
        if removed { Ok(()) } else { Err("no such article".into()) }
    }

    /// The article with this slug.
    #[also_answers(_get)]
    pub async fn _by_slug(&self, ctx: &QueryContext, slug: String) -> Result<Vec<ArticleRow>, StateError> {
        let found = ctx
            .collection::<ArticleDoc>("articles")
            .find_with_ids(Query::eq("slug", &slug).limit(1))
            .await?;
        Ok(found.into_iter().map(|(article, d)| row(article, d)).collect())
    }

    /// An article's fields.
    #[batch(get_many)]
    pub async fn _get(&self, ctx: &QueryContext, article: String) -> Result<Vec<ArticleRow>, StateError> {
        let doc = ctx.collection::<ArticleDoc>("articles").get(&article).await?;
        Ok(doc.map(|d| row(article, d)).into_iter().collect())
    }

    async fn get_many(&self, ctx: &QueryContext, article: Vec<String>) -> Result<Vec<Vec<ArticleRow>>, StateError> {
        let found = ctx.collection::<ArticleDoc>("articles").get_many(&article).await?;
        Ok(article
            .into_iter()
            .map(|id| found.get(&id).cloned().map(|d| row(id, d)).into_iter().collect())
            .collect())
    }

    /// A page of articles, newest first: by any of `authors` and among the
    /// ids `among` (each `null` for no restriction); `limit` defaults to 20.
    /// Its rows are the articles' `_get` rows, so a page's entries are not
    /// read twice.
    #[also_answers(_get)]
    pub async fn _list(
        &self,
        ctx: &QueryContext,
        authors: Option<Vec<String>>,
        among: Option<Vec<String>>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<Vec<ArticleRow>, StateError> {
        let q = selection(authors, among)
            .sort("createdAt", false)
            .limit(limit.unwrap_or(20))
            .offset(offset.unwrap_or(0));
        let found = ctx.collection::<ArticleDoc>("articles").find_with_ids(q).await?;
        Ok(found.into_iter().map(|(id, d)| row(id, d)).collect())
    }

    /// How many articles `_list` pages through for the same restrictions.
    pub async fn _count(
        &self,
        ctx: &QueryContext,
        authors: Option<Vec<String>>,
        among: Option<Vec<String>>,
    ) -> Result<CountRow, StateError> {
        let count = ctx
            .collection::<ArticleDoc>("articles")
            .count(selection(authors, among))
            .await?;
        Ok(CountRow { count })
    }
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(slugify("How to train your dragon"), "how-to-train-your-dragon");
        assert_eq!(slugify("  Ça va?  Oui!! "), "ça-va-oui");
        assert_eq!(slugify("!!!"), "");
    }
}

#[cfg(test)]
mod behaviour {
    use concord::testing::ConceptHarness;
    use serde_json::json;

    #[tokio::test]
    async fn articles_are_created_updated_listed_and_deleted() {
        let h = ConceptHarness::new(super::Article).await;
        let new =
            |author: &str, title: &str| json!({"author": author, "title": title, "description": "d", "body": "b"});
        let a1 = h.ok("create", new("ada", "Hello World")).await;
        let slug = a1["slug"].as_str().unwrap().to_string();
        assert!(
            slug.starts_with("hello-world-") && slug.len() == "hello-world-".len() + 8,
            "{slug}"
        );
        let a2 = h.ok("create", new("ada", "Hello World")).await;
        assert_ne!(a2["slug"], a1["slug"], "equal titles, different slugs");
        let a3 = h.ok("create", new("bob", "Third")).await;
        assert_eq!(
            h.err(
                "create",
                json!({"author": "ada", "title": " ", "description": "d", "body": "b"})
            )
            .await,
            "title can't be blank"
        );

        let got = h.query("_bySlug", json!({"slug": slug})).await;
        assert_eq!(got[0]["article"], a1["article"]);
        let before = got[0]["updatedAt"].clone();
        h.ok("update", json!({"article": a1["article"], "body": "new"})).await;
        let after = &h.query("_get", json!({"article": a1["article"]})).await[0];
        assert_eq!(after["body"], json!("new"));
        assert_eq!(after["title"], json!("Hello World"), "null keeps a field");
        assert_ne!(after["updatedAt"], before, "updatedAt changes");
        assert_eq!(
            h.err("update", json!({"article": a1["article"], "title": ""})).await,
            "title can't be blank"
        );

        let ids = |rows: Vec<serde_json::Value>| rows.into_iter().map(|r| r["article"].clone()).collect::<Vec<_>>();
        let all = ids(h.query("_list", json!({})).await);
        assert_eq!(
            all,
            [a3["article"].clone(), a2["article"].clone(), a1["article"].clone()],
            "newest first"
        );
        assert_eq!(
            ids(h.query("_list", json!({"limit": 1, "offset": 1})).await),
            [a2["article"].clone()]
        );
        assert_eq!(
            ids(h.query("_list", json!({"authors": ["bob"]})).await),
            [a3["article"].clone()]
        );
        let among = json!([a1["article"], a3["article"]]);
        assert_eq!(
            ids(h.query("_list", json!({"authors": ["ada"], "among": among})).await),
            [a1["article"].clone()]
        );
        assert!(h.query("_list", json!({"among": []})).await.is_empty());
        assert_eq!(
            h.query("_count", json!({"authors": ["ada"]})).await,
            [json!({"count": 2})]
        );
        assert_eq!(h.query("_count", json!({})).await, [json!({"count": 3})]);

        h.ok("delete", json!({"article": a1["article"]})).await;
        assert!(h.query("_bySlug", json!({"slug": slug})).await.is_empty());
        assert_eq!(
            h.err("delete", json!({"article": a1["article"]})).await,
            "no such article"
        );
    }
}
