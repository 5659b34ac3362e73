#![allow(dead_code)] // each bench that includes this module uses a part of it
//! What the read benchmarks share: the data set, seeded through the API so
//! that any RealWorld backend gets the same one.

use std::net::SocketAddr;
use std::time::Instant;

use concord::testing::http::send;
use serde_json::json;

/// Authors, each with `ARTICLES_PER_AUTHOR` articles.
pub const AUTHORS: usize = 50;
/// Articles per author.
pub const ARTICLES_PER_AUTHOR: usize = 10;

/// What the seeding made: the reader's token and every article's slug.
pub struct Seeded {
    /// `Token …` of a reader who follows 10 authors and favors 50 articles.
    pub reader: String,
    /// Slugs, in creation order.
    pub slugs: Vec<String>,
}

/// Registers `name` (password "password") and returns its token.
pub async fn register(addr: SocketAddr, name: &str) -> String {
    let body = json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": "password"}});
    let r = send(addr, "POST", "/api/users", &body.to_string(), &[]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["user"]["token"].as_str().unwrap().to_string()
}

/// 50 authors with 10 articles each (two of ten tags per article), and a
/// reader following 10 authors and favoring 50 articles.
pub async fn seed(addr: SocketAddr) -> Seeded {
    let started = Instant::now();
    let mut slugs = Vec::new();
    for a in 0..AUTHORS {
        let token = register(addr, &format!("author{a}")).await;
        let auth = format!("Token {token}");
        for i in 0..ARTICLES_PER_AUTHOR {
            let body = json!({"article": {
                "title": format!("Article {i} by author {a}"),
                "description": "A benchmark article",
                "body": "Lorem ipsum dolor sit amet. ".repeat(20),
                "tagList": [format!("tag{}", (a + i) % 10), format!("tag{}", (a * 3 + i) % 10)]
            }});
            let r = send(
                addr,
                "POST",
                "/api/articles",
                &body.to_string(),
                &[("Authorization", &auth)],
            )
            .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            slugs.push(r.body["article"]["slug"].as_str().unwrap().to_string());
        }
    }
    let reader = format!("Token {}", register(addr, "reader").await);
    for a in 0..10 {
        let r = send(
            addr,
            "POST",
            &format!("/api/profiles/author{a}/follow"),
            "",
            &[("Authorization", &reader)],
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    for slug in slugs.iter().step_by(10) {
        let r = send(
            addr,
            "POST",
            &format!("/api/articles/{slug}/favorite"),
            "",
            &[("Authorization", &reader)],
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let count = send(addr, "GET", "/api/articles", "", &[]).await.body["articlesCount"].clone();
    assert_eq!(
        count,
        json!(AUTHORS * ARTICLES_PER_AUTHOR),
        "the database must start empty"
    );
    println!("  seeded {count} articles in {:.1?}", started.elapsed());
    Seeded { reader, slugs }
}
