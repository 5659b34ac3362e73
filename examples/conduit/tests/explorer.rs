//! What the explorer (development mode) and `why` show for a conduit flow
//! that an `else` answered: the companion's name on the answer, and an
//! explanation that names the step and the `else`.

mod support;

use concord::http::HttpConfig;
use serde_json::{Value, json};
use support::{Api, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_delete_is_explained_by_its_else() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("explorer.db").display());
    let config = HttpConfig {
        dev: true,
        ..HttpConfig::default()
    };
    let router = conduit::app().unwrap().database(&url).router(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(concord::http::serve(listener, router));

    let api = Api::new(addr);
    let author = api.register("author").await;
    let reader = api.register("reader").await;
    let created = author
        .post(
            "/articles",
            json!({"article": {"title": "Mine", "description": "d", "body": "b"}}),
        )
        .await;
    let slug = created.body["article"]["slug"].as_str().unwrap().to_string();
    assert_eq!(reader.delete(&format!("/articles/{slug}")).await.status, 403);

    let flows = send(addr, "GET", "/_concord/api/flows", "", &[]).await.body;
    let forbidden = flows
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["method"] == "DELETE" && f["status"] == 403)
        .unwrap_or_else(|| panic!("{flows}"));
    let flow = forbidden["flow"].as_str().unwrap();
    let detail = send(addr, "GET", &format!("/_concord/api/flows/{flow}"), "", &[])
        .await
        .body;
    let syncs: Vec<&Value> = detail["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["sync"])
        .collect();
    assert_eq!(
        syncs,
        [&Value::Null, &json!("articles.DeleteArticle.else3")],
        "{detail}"
    );
    let near = detail["nearMisses"].as_array().unwrap();
    assert!(
        near.iter().any(|l| l
            == "articles.DeleteArticle: where step 3 dropped every frame, and its `else` (articles.DeleteArticle.else3) answered"),
        "{near:?}"
    );
    assert!(
        !near
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("articles.DeleteArticle.else")),
        "the other elses are not listed: {near:?}"
    );
}

#[test]
fn expand_shows_a_sync_with_its_views_inlined_and_its_companions() {
    let text = conduit::app().unwrap().expand(Some("GetArticle")).unwrap();
    assert!(text.starts_with("# "), "names the file: {text}");
    for expected in [
        "sync GetArticle\n",
        "    let article@ArticleJson1 = article\n",
        "    Article._get (article: article@ArticleEntryJson2)",
        "sync GetArticle.else2\n",
        "    not Article._bySlug (slug)\n",
        "sync GetArticle.else3\n",
        "    collect true as found@ArticleJson1 {\n",
        "    len(found@ArticleJson1) == 0\n",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(conduit::app().unwrap().expand(Some("NoSuchSync")).unwrap().is_empty());
}
