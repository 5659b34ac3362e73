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
    let app = conduit::app().database(&url);
    let requesting = app.requesting();
    let (engine, store) = app.load_with_store().await.unwrap();
    let config = HttpConfig {
        dev: true,
        ..HttpConfig::default()
    };
    let router = concord::http::router_with_explorer(engine, requesting, config, Some(store));
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
