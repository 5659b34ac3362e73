//! The route table answers what no flow could: an unknown path is 404, a
//! known path with another method is 405 with `Allow`, `HEAD` is served for
//! `GET` routes, and none of them starts a flow.

mod support;

use support::{send, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_are_refused_by_the_route_table() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(&format!("sqlite://{}", dir.path().join("routes.db").display())).await;

    let r = send(addr, "GET", "/api/nowhere", "", &[]).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        r.body,
        serde_json::json!({"errors": {"path": ["no route matches /nowhere"]}}),
        "the app's error shape"
    );
    let r = send(addr, "GET", "/api/articles/feed/", "", &[]).await;
    assert_eq!(r.status, 404, "a trailing slash is another path: {}", r.body);

    let r = send(addr, "PATCH", "/api/user", "{}", &[]).await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert!(r.headers.contains("allow: get, put, head, options"), "{}", r.headers);
    assert_eq!(
        r.body["errors"]["method"][0],
        "/user does not take PATCH; it takes GET, PUT, HEAD, OPTIONS"
    );
    let r = send(addr, "DELETE", "/api/tags", "", &[]).await;
    assert_eq!(r.status, 405);
    assert!(r.headers.contains("allow: get, head, options"), "{}", r.headers);
    // Templates too: `/articles/:slug` takes GET, PUT and DELETE.
    let r = send(addr, "POST", "/api/articles/some-slug", "{}", &[]).await;
    assert_eq!(r.status, 405);

    // Only POST and DELETE start a flow on `/favorite` (a sync answering
    // a failed favorite, whatever the method, does not open the route to GET).
    let r = send(addr, "GET", "/api/articles/some-slug/favorite", "", &[]).await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert!(r.headers.contains("allow: post, delete, options"), "{}", r.headers);

    let get = send(addr, "GET", "/api/tags", "", &[]).await;
    assert_eq!(get.status, 200);
    let head = send(addr, "HEAD", "/api/tags", "", &[]).await;
    assert_eq!(head.status, 200, "HEAD is served for a GET route");
    assert_eq!(head.body, serde_json::Value::Null, "and has no body");
}
