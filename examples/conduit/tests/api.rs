//! Everything the RealWorld collection does not assert, over real HTTP, on
//! SQLite and PostgreSQL: every error status and body of the v2 spec,
//! pagination edges, the feed, cascades, and races (concurrent favorites,
//! duplicate registrations).

mod support;

use serde_json::{Value, json};
use support::{Api, databases, start, unique};

fn errors(key: &str, message: &str) -> Value {
    json!({ "errors": { key: [message] } })
}

fn is_ms_timestamp(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    // 2026-01-02T03:04:05.678Z
    s.len() == 24 && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.' && s.ends_with('Z')
}

async fn each_database(test: impl AsyncFn(Api, &str)) {
    let dir = tempfile::tempdir().unwrap();
    for (name, url) in databases(&dir) {
        let addr = start(&url).await;
        test(Api::new(addr), name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_register_log_in_and_update_with_the_specs_errors() {
    each_database(async |api, db| {
        let name = unique("ada");
        let email = format!("{name}@example.com");
        let r = api
            .post(
                "/users",
                json!({"user": {"username": name, "email": email, "password": "password1"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{db}");
        let user = &r.body["user"];
        assert_eq!((&user["username"], &user["email"]), (&json!(name), &json!(email)));
        assert_eq!(
            (&user["bio"], &user["image"]),
            (&Value::Null, &Value::Null),
            "{db}: new users have null bio and image"
        );
        let token = user["token"].as_str().unwrap().to_string();

        let dup = api
            .post(
                "/users",
                json!({"user": {"username": name, "email": "other@example.com", "password": "password1"}}),
            )
            .await;
        assert_eq!(
            (dup.status, dup.body),
            (409, errors("username", "has already been taken")),
            "{db}"
        );
        let dup = api
            .post(
                "/users",
                json!({"user": {"username": unique("b"), "email": email, "password": "password1"}}),
            )
            .await;
        assert_eq!(
            (dup.status, dup.body),
            (409, errors("email", "has already been taken")),
            "{db}"
        );
        let blank = api
            .post(
                "/users",
                json!({"user": {"username": " ", "email": "x@example.com", "password": "password1"}}),
            )
            .await;
        assert_eq!(
            (blank.status, blank.body),
            (422, errors("username", "can't be blank")),
            "{db}"
        );
        let blank = api
            .post(
                "/users",
                json!({"user": {"username": unique("c"), "email": "", "password": "password1"}}),
            )
            .await;
        assert_eq!(
            (blank.status, blank.body),
            (422, errors("email", "can't be blank")),
            "{db}"
        );
        let blank = api
            .post("/users", json!({"user": {"username": unique("d"), "email": "d@x.io"}}))
            .await;
        assert_eq!(
            (blank.status, blank.body),
            (422, errors("password", "can't be blank")),
            "{db}"
        );
        let no_user = api.post("/users", json!({})).await;
        assert_eq!(no_user.status, 422, "{db}: a body without `user`");
        let not_an_object = api.post("/users", json!({"user": "x"})).await;
        assert_eq!(
            (not_an_object.status, not_an_object.body),
            (422, errors("password", "can't be blank")),
            "{db}: `user` that is not an object"
        );
        let number = api
            .post(
                "/users",
                json!({"user": {"username": 5, "email": "n@example.com", "password": "password1"}}),
            )
            .await;
        assert_eq!(
            (number.status, number.body),
            (422, errors("user.username", "must be a string")),
            "{db}: refused by the edge, before any flow"
        );
        let short = api
            .post(
                "/users",
                json!({"user": {"username": unique("s"), "email": "s@x.io", "password": "seven77"}}),
            )
            .await;
        assert_eq!(
            (short.status, short.body),
            (422, errors("password", "is too short (minimum is 8 characters)")),
            "{db}"
        );
        let long_name = unique("l");
        let long = api
            .post(
                "/users",
                json!({"user": {"username": long_name, "email": format!("{long_name}@x.io"), "password": "p".repeat(72)}}),
            )
            .await;
        assert_eq!(long.status, 201, "{db}: long passwords are accepted");
        let odd_login = api
            .post("/users/login", json!({"user": {"email": 5, "password": "password1"}}))
            .await;
        assert_eq!(
            (odd_login.status, odd_login.body),
            (401, errors("credentials", "invalid")),
            "{db}: a login with a number for an email (`User._byEmail` takes any value)"
        );
        let blank_login = api.post("/users/login", json!({"user": {"email": " "}})).await;
        assert_eq!(
            (blank_login.status, blank_login.body),
            (
                422,
                json!({"errors": {"email": ["can't be blank"], "password": ["can't be blank"]}})
            ),
            "{db}"
        );
        let no_password = api.post("/users/login", json!({"user": {"email": email}})).await;
        assert_eq!(
            (no_password.status, no_password.body),
            (422, errors("password", "can't be blank")),
            "{db}"
        );

        let login = api
            .post("/users/login", json!({"user": {"email": email, "password": "password1"}}))
            .await;
        assert_eq!(login.status, 200, "{db}");
        assert_eq!(login.body["user"]["username"], json!(name));
        let invalid = errors("credentials", "invalid");
        let wrong = api
            .post("/users/login", json!({"user": {"email": email, "password": "nope"}}))
            .await;
        assert_eq!((wrong.status, &wrong.body), (401, &invalid), "{db}");
        let unknown = api
            .post(
                "/users/login",
                json!({"user": {"email": "nobody@example.com", "password": "password1"}}),
            )
            .await;
        assert_eq!((unknown.status, &unknown.body), (401, &invalid), "{db}");

        let me = api.as_user(&token);
        let current = me.get("/user").await;
        assert_eq!(
            (current.status, &current.body["user"]["email"]),
            (200, &json!(email)),
            "{db}"
        );
        assert_eq!(current.body["user"]["token"], json!(token));
        let anonymous = api.get("/user").await;
        assert_eq!(
            (anonymous.status, anonymous.body),
            (401, errors("token", "is missing")),
            "{db}"
        );
        let forged = api.as_user(&format!("{token}x")).get("/user").await;
        assert_eq!(
            (forged.status, forged.body),
            (401, errors("token", "is invalid")),
            "{db}"
        );

        let updated = me
            .put(
                "/user",
                json!({"user": {"bio": "I like engines", "image": "https://example.com/a.png"}}),
            )
            .await;
        assert_eq!(updated.status, 200, "{db}: {:?}", updated.body);
        assert_eq!(updated.body["user"]["bio"], json!("I like engines"));
        assert_eq!(updated.body["user"]["username"], json!(name), "{db}: other fields kept");
        let new_email = format!("new-{email}");
        let updated = me
            .put("/user", json!({"user": {"email": new_email, "password": "password2"}}))
            .await;
        assert_eq!(updated.body["user"]["email"], json!(new_email), "{db}");
        assert_eq!(updated.body["user"]["bio"], json!("I like engines"), "{db}");
        let relogin = api
            .post("/users/login", json!({"user": {"email": new_email, "password": "password2"}}))
            .await;
        assert_eq!(relogin.status, 200, "{db}: the new password works");

        // Absent keeps a field, null or "" clears bio and image, and email,
        // username and password cannot be cleared.
        let kept = me.put("/user", json!({"user": {"image": null}})).await;
        assert_eq!(
            (kept.status, &kept.body["user"]["bio"], &kept.body["user"]["image"]),
            (200, &json!("I like engines"), &Value::Null),
            "{db}: absent bio kept, null image cleared"
        );
        let cleared = me.put("/user", json!({"user": {"bio": ""}})).await;
        assert_eq!(
            (cleared.status, &cleared.body["user"]["bio"]),
            (200, &Value::Null),
            "{db}: \"\" is stored as null"
        );
        for (field, value) in [
            ("email", Value::Null),
            ("username", json!("")),
            ("password", Value::Null),
            ("email", json!("  ")),
        ] {
            let r = me.put("/user", json!({"user": {field: value, "bio": "unchanged?"}})).await;
            assert_eq!(
                (r.status, r.body),
                (422, errors(field, "can't be blank")),
                "{db}: {field}: {value}"
            );
        }
        let short = me.put("/user", json!({"user": {"password": "short", "bio": "x"}})).await;
        assert_eq!(
            (short.status, short.body),
            (422, errors("password", "is too short (minimum is 8 characters)")),
            "{db}"
        );
        let current = me.get("/user").await;
        assert_eq!(
            (&current.body["user"]["bio"], &current.body["user"]["email"]),
            (&Value::Null, &json!(new_email)),
            "{db}: rejected updates changed nothing"
        );
        let other = api.register(&unique("eve")).await;
        let taken = other.put("/user", json!({"user": {"username": name}})).await;
        assert_eq!(
            (taken.status, taken.body),
            (409, errors("username", "has already been taken")),
            "{db}"
        );
        let unauthorised = api.put("/user", json!({"user": {"bio": "x"}})).await;
        assert_eq!(unauthorised.status, 401, "{db}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_and_following() {
    each_database(async |api, db| {
        let (a, b) = (unique("fan"), unique("star"));
        let fan = api.register(&a).await;
        api.register(&b).await;
        let profile = api.get(&format!("/profiles/{b}")).await;
        assert_eq!(
            (profile.status, profile.body),
            (
                200,
                json!({"profile": {"username": b, "bio": null, "image": null, "following": false}})
            ),
            "{db}"
        );
        let missing = api.get("/profiles/nobody-at-all").await;
        assert_eq!(
            (missing.status, missing.body),
            (404, errors("profile", "not found")),
            "{db}"
        );

        let follow = fan.post(&format!("/profiles/{b}/follow"), json!({})).await;
        assert_eq!(
            (follow.status, &follow.body["profile"]["following"]),
            (200, &json!(true)),
            "{db}"
        );
        let again = fan.post(&format!("/profiles/{b}/follow"), json!({})).await;
        assert_eq!(again.status, 200, "{db}: following twice is following once");
        assert_eq!(
            fan.get(&format!("/profiles/{b}")).await.body["profile"]["following"],
            json!(true)
        );
        assert_eq!(
            api.get(&format!("/profiles/{b}")).await.body["profile"]["following"],
            json!(false)
        );
        let nobody = fan.post("/profiles/nobody-at-all/follow", json!({})).await;
        assert_eq!(
            (nobody.status, nobody.body),
            (404, errors("profile", "not found")),
            "{db}"
        );
        let anonymous = api.post(&format!("/profiles/{b}/follow"), json!({})).await;
        assert_eq!(
            (anonymous.status, anonymous.body),
            (401, errors("token", "is missing")),
            "{db}"
        );

        let unfollow = fan.delete(&format!("/profiles/{b}/follow")).await;
        assert_eq!(
            (unfollow.status, &unfollow.body["profile"]["following"]),
            (200, &json!(false)),
            "{db}"
        );
        assert_eq!(api.delete(&format!("/profiles/{b}/follow")).await.status, 401, "{db}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_lists_pagination_feed_and_ownership() {
    each_database(async |api, db| {
        let (a, b) = (unique("writer"), unique("reader"));
        let writer = api.register(&a).await;
        let reader = api.register(&b).await;
        let tag = unique("tag");
        let retag = unique("retag");

        let created = writer
            .post(
                "/articles",
                json!({"article": {"title": "How to train your dragon", "description": "Ever wonder how?", "body": "Very carefully.", "tagList": ["zeta", tag, "alpha", tag]}}),
            )
            .await;
        assert_eq!(created.status, 201, "{db}: {:?}", created.body);
        let article = &created.body["article"];
        assert_eq!(article["tagList"], json!(["alpha", tag, "zeta"]), "{db}: tags sorted, without duplicates");
        assert!(is_ms_timestamp(&article["createdAt"]) && is_ms_timestamp(&article["updatedAt"]), "{db}: {article}");
        assert_eq!((&article["favorited"], &article["favoritesCount"]), (&json!(false), &json!(0)));
        assert_eq!(article["author"], json!({"username": a, "bio": null, "image": null, "following": false}));
        let slug = article["slug"].as_str().unwrap().to_string();
        assert!(slug.starts_with("how-to-train-your-dragon"), "{slug}");

        let blank = writer.post("/articles", json!({"article": {"title": "", "body": "b"}})).await;
        assert_eq!(
            (blank.status, blank.body),
            (422, json!({"errors": {"title": ["can't be blank"], "description": ["can't be blank"]}})),
            "{db}"
        );
        assert_eq!(api.post("/articles", json!({"article": {}})).await.status, 401, "{db}");

        // Five more by the writer, so pages have something to cut.
        for i in 0..5 {
            let r = writer
                .post("/articles", json!({"article": {"title": format!("Part {i}"), "description": "d", "body": "b", "tagList": [tag]}}))
                .await;
            assert_eq!(r.status, 201, "{db}: {:?}", r.body);
        }
        let by_author = api.get(&format!("/articles?author={a}")).await;
        assert_eq!(by_author.body["articlesCount"], json!(6), "{db}");
        let titles: Vec<&str> = by_author.body["articles"].as_array().unwrap().iter().map(|x| x["title"].as_str().unwrap()).collect();
        assert_eq!(titles[0], "Part 4", "{db}: newest first");
        assert!(by_author.body["articles"].as_array().unwrap().iter().all(|x| x.get("body").is_none()), "{db}: no body in lists");

        let page = api.get(&format!("/articles?author={a}&limit=2&offset=1")).await;
        let titles: Vec<&str> = page.body["articles"].as_array().unwrap().iter().map(|x| x["title"].as_str().unwrap()).collect();
        assert_eq!((titles, &page.body["articlesCount"]), (vec!["Part 3", "Part 2"], &json!(6)), "{db}: count is the total");
        let past_the_end = api.get(&format!("/articles?author={a}&offset=100")).await;
        assert_eq!((&past_the_end.body["articles"], &past_the_end.body["articlesCount"]), (&json!([]), &json!(6)), "{db}");
        let limit_error = errors("limit", "must be an integer of at least 1");
        for limit in ["0", "-5", "lots", "1.5", "1e2", "%20"] {
            let r = api.get(&format!("/articles?author={a}&limit={limit}")).await;
            assert_eq!((r.status, &r.body), (422, &limit_error), "{db}: limit={limit}");
        }
        let negative = api.get(&format!("/articles?author={a}&offset=-1")).await;
        assert_eq!(
            (negative.status, negative.body),
            (422, errors("offset", "must be an integer of at least 0")),
            "{db}"
        );
        assert_eq!(reader.get("/articles/feed?limit=-5").await.status, 422, "{db}");
        assert_eq!(reader.get("/articles/feed?offset=x").await.status, 422, "{db}");
        let padded = api.get(&format!("/articles?author={a}&limit=%202%20")).await;
        assert_eq!(padded.body["articles"].as_array().unwrap().len(), 2, "{db}: ` 2 ` is 2");
        let not_a_list = writer
            .post("/articles", json!({"article": {"title": "t", "description": "d", "body": "b", "tagList": "notalist"}}))
            .await;
        assert_eq!(
            (not_a_list.status, not_a_list.body),
            (422, errors("article.tagList", "must be a list")),
            "{db}: named, without internals"
        );
        let nobody = api.get("/articles?author=nobody-at-all").await;
        assert_eq!((&nobody.body["articles"], &nobody.body["articlesCount"]), (&json!([]), &json!(0)), "{db}");
        let tagged = api.get(&format!("/articles?tag={tag}")).await;
        assert_eq!(tagged.body["articlesCount"], json!(6), "{db}");
        assert!(api.get("/tags").await.body["tags"].as_array().unwrap().contains(&json!(tag)), "{db}");

        // Favorited filter, alone and with a tag.
        assert_eq!(reader.post(&format!("/articles/{slug}/favorite"), json!({})).await.status, 200);
        let liked = api.get(&format!("/articles?favorited={b}")).await;
        assert_eq!(liked.body["articlesCount"], json!(1), "{db}");
        assert_eq!(liked.body["articles"][0]["favoritesCount"], json!(1));
        let both = api.get(&format!("/articles?favorited={b}&tag=zeta")).await;
        assert_eq!(both.body["articlesCount"], json!(1), "{db}");
        let neither = api.get(&format!("/articles?favorited={b}&tag=no-such-tag")).await;
        assert_eq!(neither.body["articlesCount"], json!(0), "{db}");
        let mine = reader.get(&format!("/articles?author={a}&limit=1&offset=5")).await;
        assert_eq!(mine.body["articles"][0]["favorited"], json!(true), "{db}: favorited as the viewer sees it");

        // The feed: only followed authors; 401 without a token.
        let feed = reader.get("/articles/feed").await;
        assert_eq!((feed.status, &feed.body["articlesCount"]), (200, &json!(0)), "{db}");
        reader.post(&format!("/profiles/{a}/follow"), json!({})).await;
        let feed = reader.get("/articles/feed?limit=3").await;
        assert_eq!(feed.body["articlesCount"], json!(6), "{db}");
        assert_eq!(feed.body["articles"].as_array().unwrap().len(), 3);
        assert_eq!(feed.body["articles"][0]["author"]["following"], json!(true));
        assert_eq!(api.get("/articles/feed").await.status, 401, "{db}");

        // Get, update (owner only), delete (owner only).
        let got = reader.get(&format!("/articles/{slug}")).await;
        assert_eq!((got.status, &got.body["article"]["body"]), (200, &json!("Very carefully.")), "{db}");
        assert_eq!(got.body["article"]["author"]["following"], json!(true));
        let missing = api.get("/articles/no-such-article").await;
        assert_eq!((missing.status, missing.body), (404, errors("article", "not found")), "{db}");
        let forbidden = reader.put(&format!("/articles/{slug}"), json!({"article": {"body": "mine now"}})).await;
        assert_eq!((forbidden.status, forbidden.body), (403, errors("article", "forbidden")), "{db}");
        let updated = writer
            .put(&format!("/articles/{slug}"), json!({"article": {"body": "With two hands", "tagList": [retag]}}))
            .await;
        assert_eq!(updated.status, 200, "{db}: {:?}", updated.body);
        assert_eq!(updated.body["article"]["body"], json!("With two hands"));
        assert_eq!(updated.body["article"]["tagList"], json!([retag]));
        assert_eq!(updated.body["article"]["favoritesCount"], json!(1));
        assert_ne!(updated.body["article"]["updatedAt"], article["updatedAt"], "{db}: updatedAt changes");
        assert_eq!(updated.body["article"]["createdAt"], article["createdAt"]);
        let null_tags = writer.put(&format!("/articles/{slug}"), json!({"article": {"tagList": null}})).await;
        assert_eq!((null_tags.status, null_tags.body), (422, errors("tagList", "can't be null")), "{db}");
        assert_eq!(api.put(&format!("/articles/{slug}"), json!({"article": {}})).await.status, 401);
        assert_eq!(writer.put("/articles/no-such-article", json!({"article": {}})).await.status, 404);

        let comment = reader.post(&format!("/articles/{slug}/comments"), json!({"comment": {"body": "Nice"}})).await;
        assert_eq!(comment.status, 201, "{db}");
        assert_eq!(reader.delete(&format!("/articles/{slug}")).await.status, 403, "{db}");
        assert_eq!(api.delete(&format!("/articles/{slug}")).await.status, 401, "{db}");
        let deleted = writer.delete(&format!("/articles/{slug}")).await;
        assert_eq!((deleted.status, deleted.body), (204, Value::Null), "{db}");
        assert_eq!(api.get(&format!("/articles/{slug}")).await.status, 404, "{db}");
        assert_eq!(writer.delete(&format!("/articles/{slug}")).await.status, 404, "{db}");
        assert_eq!(api.get(&format!("/articles/{slug}/comments")).await.status, 404, "{db}");
        let liked = api.get(&format!("/articles?favorited={b}")).await;
        assert_eq!(liked.body["articlesCount"], json!(0), "{db}: the favorite went with the article");
        let tags = api.get("/tags").await.body["tags"].clone();
        assert!(!tags.as_array().unwrap().contains(&json!(retag)), "{db}: its tags went with it");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_add_list_and_delete() {
    each_database(async |api, db| {
        let (a, b) = (unique("author"), unique("commenter"));
        let author = api.register(&a).await;
        let commenter = api.register(&b).await;
        let slug = |r: &support::Reply| r.body["article"]["slug"].as_str().unwrap().to_string();
        let first = slug(
            &author
                .post(
                    "/articles",
                    json!({"article": {"title": "One", "description": "d", "body": "b"}}),
                )
                .await,
        );
        let second = slug(
            &author
                .post(
                    "/articles",
                    json!({"article": {"title": "Two", "description": "d", "body": "b"}}),
                )
                .await,
        );

        let added = commenter
            .post(
                &format!("/articles/{first}/comments"),
                json!({"comment": {"body": "First!"}}),
            )
            .await;
        assert_eq!(added.status, 201, "{db}: {:?}", added.body);
        let comment = &added.body["comment"];
        assert!(comment["id"].is_i64(), "{db}: comment ids are integers: {comment}");
        assert!(is_ms_timestamp(&comment["createdAt"]));
        assert_eq!(comment["author"]["username"], json!(b));
        let id = comment["id"].as_i64().unwrap();

        let blank = commenter
            .post(
                &format!("/articles/{first}/comments"),
                json!({"comment": {"body": " "}}),
            )
            .await;
        assert_eq!(
            (blank.status, blank.body),
            (422, errors("body", "can't be blank")),
            "{db}"
        );
        let nowhere = commenter
            .post("/articles/no-such-article/comments", json!({"comment": {"body": "x"}}))
            .await;
        assert_eq!(
            (nowhere.status, nowhere.body),
            (404, errors("article", "not found")),
            "{db}"
        );
        assert_eq!(
            api.post(
                &format!("/articles/{first}/comments"),
                json!({"comment": {"body": "x"}})
            )
            .await
            .status,
            401
        );

        let listed = api.get(&format!("/articles/{first}/comments")).await;
        assert_eq!(listed.status, 200, "{db}");
        assert_eq!(listed.body["comments"].as_array().unwrap().len(), 1);
        assert_eq!(listed.body["comments"][0]["body"], json!("First!"));
        assert_eq!(
            api.get(&format!("/articles/{second}/comments")).await.body,
            json!({"comments": []}),
            "{db}"
        );

        let elsewhere = commenter.delete(&format!("/articles/{second}/comments/{id}")).await;
        assert_eq!(
            (elsewhere.status, elsewhere.body),
            (404, errors("comment", "not found")),
            "{db}: a comment of another article"
        );
        let unknown = commenter.delete(&format!("/articles/{first}/comments/999999999")).await;
        assert_eq!(unknown.status, 404, "{db}");
        for id in ["abc", "1.0", "1.5", "-", "99999999999999999999"] {
            let r = commenter.delete(&format!("/articles/{first}/comments/{id}")).await;
            assert_eq!(
                (r.status, r.body),
                (404, errors("comment", "not found")),
                "{db}: id {id}"
            );
        }
        let forbidden = author.delete(&format!("/articles/{first}/comments/{id}")).await;
        assert_eq!(
            (forbidden.status, forbidden.body),
            (403, errors("comment", "forbidden")),
            "{db}"
        );
        assert_eq!(
            api.delete(&format!("/articles/{first}/comments/{id}")).await.status,
            401,
            "{db}"
        );
        let deleted = commenter.delete(&format!("/articles/{first}/comments/{id}")).await;
        assert_eq!(deleted.status, 204, "{db}");
        assert_eq!(
            api.get(&format!("/articles/{first}/comments")).await.body,
            json!({"comments": []})
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn favorites_count_exactly_under_concurrency() {
    each_database(async |api, db| {
        let author = api.register(&unique("popular")).await;
        let created = author
            .post(
                "/articles",
                json!({"article": {"title": "Loved", "description": "d", "body": "b"}}),
            )
            .await;
        let slug = created.body["article"]["slug"].as_str().unwrap().to_string();
        let mut fans = Vec::new();
        for i in 0..12 {
            fans.push(api.register(&unique(&format!("fan{i}-"))).await);
        }
        let tasks: Vec<_> = fans
            .iter()
            .cloned()
            .map(|fan| {
                let path = format!("/articles/{slug}/favorite");
                tokio::spawn(async move { fan.post(&path, json!({})).await.status })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200, "{db}");
        }
        let got = api.get(&format!("/articles/{slug}")).await;
        assert_eq!(
            got.body["article"]["favoritesCount"],
            json!(12),
            "{db}: every concurrent favorite counted once"
        );
        let again = fans[0].post(&format!("/articles/{slug}/favorite"), json!({})).await;
        assert_eq!(
            again.body["article"]["favoritesCount"],
            json!(12),
            "{db}: favoriting twice counts once"
        );
        assert_eq!(again.body["article"]["favorited"], json!(true));
        let undone = fans[0].delete(&format!("/articles/{slug}/favorite")).await;
        assert_eq!(
            (
                undone.body["article"]["favorited"].clone(),
                undone.body["article"]["favoritesCount"].clone()
            ),
            (json!(false), json!(11))
        );
        assert_eq!(
            fans[0]
                .post("/articles/no-such-article/favorite", json!({}))
                .await
                .status,
            404,
            "{db}"
        );
        assert_eq!(
            api.post(&format!("/articles/{slug}/favorite"), json!({})).await.status,
            401,
            "{db}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_registrations_racing_leave_one_user() {
    each_database(async |api, db| {
        let name = unique("race");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (api, name) = (api.clone(), name.clone());
                tokio::spawn(async move {
                    let body = json!({"user": {"username": name, "email": format!("{name}-{i}@example.com"), "password": "password1"}});
                    let r = api.post("/users", body).await;
                    (r.status, r.body)
                })
            })
            .collect();
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap() {
                (201, _) => created += 1,
                (status, body) => assert_eq!((status, body), (409, errors("username", "has already been taken")), "{db}"),
            }
        }
        assert_eq!(created, 1, "{db}: exactly one registration wins");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_is_a_400_naming_the_field_and_changes_nothing() {
    each_database(async |api, db| {
        let name = unique("nul");
        let r = api
            .post(
                "/users",
                json!({"user": {"username": format!("{name}\u{0}"), "email": format!("{name}@example.com"), "password": "password"}}),
            )
            .await;
        assert_eq!(
            (r.status, r.body),
            (400, errors("user.username", "contains a NUL character (U+0000), which is not accepted")),
            "{db}"
        );
        let r = api.get(&format!("/profiles/{name}%00")).await;
        assert_eq!(r.status, 400, "{db}: {:?}", r.body);
        api.register(&name).await;
    })
    .await;
}
