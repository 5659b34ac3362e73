//! The RealWorld endpoints the benchmarks compare, written by hand the way a
//! competent team writes them without a framework: axum handlers over a
//! schema of plain tables and indexes, each read endpoint one SQL statement
//! (joins, aggregates, `EXISTS` for favorited and following, the total by a
//! window), statements prepared once per connection, a connection pool,
//! password hashing with the same Argon2id parameters and tokens signed the
//! same way as conduit. Bench code, not a product: only what the benchmark
//! calls (no filters, updates, deletes or comments; errors are bare).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use concord::std_concepts::Jwt;
use concord::std_concepts::password;
use concord::time::{iso, now_millis};
use concord::{ActionContext, FlowId, RecordId};
use serde::Deserialize;
use serde_json::{Value, json};

/// A statement parameter.
enum P {
    Int(Option<i64>),
    Text(String),
    Texts(Vec<String>),
}

/// A column read back: `i` (integer) or `t` (text), either nullable.
#[derive(Debug, Clone)]
enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Cell {
    fn int(&self) -> i64 {
        match self {
            Cell::Int(Some(n)) => *n,
            _ => 0,
        }
    }
    fn text(&self) -> Value {
        match self {
            Cell::Text(Some(s)) => Value::String(s.clone()),
            _ => Value::Null,
        }
    }
    fn string(&self) -> String {
        match self {
            Cell::Text(Some(s)) => s.clone(),
            _ => String::new(),
        }
    }
}

type Rows = Vec<Vec<Cell>>;

/// SQLite: one writer connection, four readers (WAL), as concord has.
struct Sqlite {
    readers: Mutex<Vec<rusqlite::Connection>>,
    permits: tokio::sync::Semaphore,
    writer: Arc<Mutex<rusqlite::Connection>>,
}

/// PostgreSQL: a pool of connections, each with its prepared statements;
/// tokio-postgres pipelines concurrent statements on one connection.
struct Postgres {
    clients: Vec<(
        tokio_postgres::Client,
        Mutex<HashMap<String, tokio_postgres::Statement>>,
    )>,
    next: AtomicUsize,
}

enum Db {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

const SCHEMA: &str = "
CREATE TABLE users (id {id}, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL, bio TEXT, image TEXT);
CREATE TABLE follows (follower_id {int} NOT NULL, followee_id {int} NOT NULL,
    PRIMARY KEY (follower_id, followee_id));
CREATE TABLE articles (id {id}, slug TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
    description TEXT NOT NULL, body TEXT NOT NULL, author_id {int} NOT NULL,
    created_at {int} NOT NULL, updated_at {int} NOT NULL);
CREATE INDEX articles_created ON articles (created_at, id);
CREATE INDEX articles_author ON articles (author_id, created_at, id);
CREATE TABLE article_tags (article_id {int} NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (article_id, tag));
CREATE INDEX article_tags_tag ON article_tags (tag);
CREATE TABLE favorites (user_id {int} NOT NULL, article_id {int} NOT NULL, PRIMARY KEY (user_id, article_id));
CREATE INDEX favorites_article ON favorites (article_id);
";

fn sqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    let mut conn = rusqlite::Connection::open(path).expect("the bench database opens");
    concord::store::StatementCounter::watch_sqlite(&mut conn).expect("statements are counted");
    conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn
}

fn sqlite_params(params: Vec<P>) -> Vec<rusqlite::types::Value> {
    params
        .into_iter()
        .map(|p| match p {
            P::Int(n) => n.map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Integer),
            P::Text(s) => rusqlite::types::Value::Text(s),
            P::Texts(v) => rusqlite::types::Value::Text(serde_json::to_string(&v).unwrap()),
        })
        .collect()
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str, params: Vec<P>, kinds: &[u8]) -> rusqlite::Result<Rows> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(sqlite_params(params)))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(kinds.len());
        for (i, k) in kinds.iter().enumerate() {
            cells.push(match k {
                b'i' => Cell::Int(row.get(i)?),
                _ => Cell::Text(row.get(i)?),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

impl Db {
    async fn open(url: &str, dir: &std::path::Path) -> Db {
        if url.starts_with("postgres") {
            let mut clients = Vec::new();
            for _ in 0..16 {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .expect("the bench database accepts connections");
                tokio::spawn(conn);
                clients.push((client, Mutex::new(HashMap::new())));
            }
            let ddl = SCHEMA
                .replace("{id}", "BIGSERIAL PRIMARY KEY")
                .replace("{int}", "BIGINT");
            clients[0].0.batch_execute(&ddl).await.expect("the schema is created");
            Db::Postgres(Postgres {
                clients,
                next: AtomicUsize::new(0),
            })
        } else {
            let path = dir.join("handwritten.db");
            let writer = sqlite_conn(&path);
            let ddl = SCHEMA
                .replace("{id}", "INTEGER PRIMARY KEY")
                .replace("{int}", "INTEGER");
            writer.execute_batch(&ddl).expect("the schema is created");
            let readers: Vec<_> = (0..4).map(|_| sqlite_conn(&path)).collect();
            Db::Sqlite(Sqlite {
                permits: tokio::sync::Semaphore::new(readers.len()),
                readers: Mutex::new(readers),
                writer: Arc::new(Mutex::new(writer)),
            })
        }
    }

    fn postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// The rows of a read.
    async fn rows(&self, sql: &str, params: Vec<P>, kinds: &'static [u8]) -> Result<Rows, String> {
        match self {
            Db::Sqlite(db) => {
                let _permit = db.permits.acquire().await.map_err(|e| e.to_string())?;
                let conn = db.readers.lock().unwrap().pop().expect("a reader per permit");
                let sql = sql.to_string();
                let (conn, result) = tokio::task::spawn_blocking(move || {
                    let result = sqlite_rows(&conn, &sql, params, kinds);
                    (conn, result)
                })
                .await
                .map_err(|e| e.to_string())?;
                db.readers.lock().unwrap().push(conn);
                result.map_err(|e| e.to_string())
            }
            Db::Postgres(db) => {
                let (client, prepared) = &db.clients[db.next.fetch_add(1, Ordering::Relaxed) % db.clients.len()];
                let cached = prepared.lock().unwrap().get(sql).cloned();
                let statement = match cached {
                    Some(s) => s,
                    None => {
                        let s = client.prepare(sql).await.map_err(|e| e.to_string())?;
                        prepared.lock().unwrap().insert(sql.to_string(), s.clone());
                        s
                    }
                };
                let owned: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = params
                    .into_iter()
                    .map(|p| -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
                        match p {
                            P::Int(n) => Box::new(n),
                            P::Text(s) => Box::new(s),
                            P::Texts(v) => Box::new(v),
                        }
                    })
                    .collect();
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = owned
                    .iter()
                    .map(|b| b.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
                    .collect();
                let rows = client.query(&statement, &refs).await.map_err(|e| e.to_string())?;
                Ok(rows
                    .iter()
                    .map(|row| {
                        kinds
                            .iter()
                            .enumerate()
                            .map(|(i, k)| match k {
                                b'i' => Cell::Int(row.get(i)),
                                _ => Cell::Text(row.get(i)),
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }

    /// A write of one statement (on SQLite's writer connection).
    async fn write(&self, sql: &str, params: Vec<P>, kinds: &'static [u8]) -> Result<Rows, String> {
        match self {
            Db::Sqlite(db) => {
                let writer = db.writer.clone();
                let sql = sql.to_string();
                tokio::task::spawn_blocking(move || sqlite_rows(&writer.lock().unwrap(), &sql, params, kinds))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
            Db::Postgres(_) => self.rows(sql, params, kinds).await,
        }
    }

    /// Inserts an article and its tags; its id.
    async fn insert_article(&self, fields: [String; 4], author: i64, tags: Vec<String>) -> Result<i64, String> {
        let now = now_millis();
        let [slug, title, description, body] = fields;
        let article = vec![
            P::Text(slug),
            P::Text(title),
            P::Text(description),
            P::Text(body),
            P::Int(Some(author)),
            P::Int(Some(now)),
        ];
        match self {
            Db::Postgres(_) => {
                // One statement: the article, then its tags from its id.
                let mut params = article;
                params.push(P::Texts(tags));
                let rows = self
                    .rows(
                        "WITH a AS (INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id), \
                         t AS (INSERT INTO article_tags (article_id, tag) SELECT DISTINCT a.id, tag FROM a, unnest($7::text[]) tag) \
                         SELECT id FROM a",
                        params,
                        b"i",
                    )
                    .await?;
                Ok(rows[0][0].int())
            }
            Db::Sqlite(db) => {
                let writer = db.writer.clone();
                tokio::task::spawn_blocking(move || -> rusqlite::Result<i64> {
                    let mut conn = writer.lock().unwrap();
                    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let id = sqlite_rows(
                        &tx,
                        "INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                        article,
                        b"i",
                    )?[0][0]
                        .int();
                    let mut insert =
                        tx.prepare_cached("INSERT OR IGNORE INTO article_tags (article_id, tag) VALUES ($1, $2)")?;
                    for tag in tags {
                        insert.execute(rusqlite::params![id, tag])?;
                    }
                    drop(insert);
                    tx.commit()?;
                    Ok(id)
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
            }
        }
    }

    /// The tag list of an article as JSON text, in order.
    fn tags_of_a(&self) -> &'static str {
        if self.postgres() {
            "(SELECT COALESCE(json_agg(tag ORDER BY tag), '[]'::json)::text FROM article_tags WHERE article_id = a.id)"
        } else {
            "(SELECT json_group_array(tag) FROM (SELECT tag FROM article_tags WHERE article_id = a.id ORDER BY tag))"
        }
    }
}

/// The columns of an article as a viewer (`$1`) sees it, and `count` (the
/// number of articles listed on all pages, an uncorrelated subquery the
/// database evaluates once): `ARTICLE_KINDS`.
fn article_select(db: &Db, body: bool, count: &str) -> String {
    format!(
        "SELECT a.slug, a.title, a.description, {}, a.created_at, a.updated_at, {}, \
         (SELECT COUNT(*) FROM favorites f WHERE f.article_id = a.id), \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM favorites f WHERE f.article_id = a.id AND f.user_id = $1) THEN 1 ELSE 0 END AS BIGINT), \
         u.username, u.bio, u.image, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM follows w WHERE w.followee_id = u.id AND w.follower_id = $1) THEN 1 ELSE 0 END AS BIGINT), \
         {count} \
         FROM articles a JOIN users u ON u.id = a.author_id",
        if body { "a.body" } else { "NULL" },
        db.tags_of_a()
    )
}

const ARTICLE_KINDS: &[u8] = b"ttttiitiitttii";

fn article_json(row: &[Cell], body: bool) -> Value {
    let tags: Value = serde_json::from_str(&row[6].string()).unwrap_or_else(|_| json!([]));
    let mut a = json!({
        "slug": row[0].text(),
        "title": row[1].text(),
        "description": row[2].text(),
        "tagList": tags,
        "createdAt": iso(row[4].int()),
        "updatedAt": iso(row[5].int()),
        "favorited": row[8].int() != 0,
        "favoritesCount": row[7].int(),
        "author": {
            "username": row[9].text(),
            "bio": row[10].text(),
            "image": row[11].text(),
            "following": row[12].int() != 0,
        },
    });
    if body {
        a["body"] = row[3].text();
    }
    a
}

struct Backend {
    db: Db,
    jwt: Jwt,
    list: String,
    feed: String,
    by_slug: String,
}

type Shared = State<Arc<Backend>>;
type Answer = Result<(StatusCode, Json<Value>), StatusCode>;

fn fail(e: String) -> StatusCode {
    eprintln!("hand-written backend: {e}");
    StatusCode::INTERNAL_SERVER_ERROR
}

/// The viewer of a request with a valid `Authorization: Token …`.
fn viewer(b: &Backend, headers: &HeaderMap) -> Option<i64> {
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Token ")?;
    b.jwt._verify(Some(token.to_string())).first()?.user.parse().ok()
}

fn context() -> ActionContext {
    ActionContext::new(FlowId::fresh(), RecordId::fresh())
}

fn user_json(b: &Backend, row: &[Cell]) -> Value {
    json!({"user": {
        "email": row[2].text(),
        "token": b.jwt.issue(row[0].int().to_string()).token,
        "username": row[1].text(),
        "bio": row[3].text(),
        "image": row[4].text(),
    }})
}

#[derive(Deserialize)]
struct UserBody {
    user: UserForm,
}

#[derive(Deserialize)]
struct UserForm {
    username: Option<String>,
    email: String,
    password: String,
}

async fn register(State(b): Shared, Json(form): Json<UserBody>) -> Answer {
    let u = form.user;
    let username = u.username.ok_or(StatusCode::UNPROCESSABLE_ENTITY)?;
    let hash = password::hash(&mut context(), u.password).await.map_err(fail)?;
    let rows =
        b.db.write(
            "INSERT INTO users (username, email, hash) VALUES ($1, $2, $3) RETURNING id, username, email, bio, image",
            vec![P::Text(username), P::Text(u.email), P::Text(hash)],
            b"itttt",
        )
        .await
        .map_err(|_| StatusCode::UNPROCESSABLE_ENTITY)?;
    Ok((StatusCode::CREATED, Json(user_json(&b, &rows[0]))))
}

async fn login(State(b): Shared, Json(form): Json<UserBody>) -> Answer {
    let u = form.user;
    let rows =
        b.db.rows(
            "SELECT id, username, email, bio, image, hash FROM users WHERE email = $1",
            vec![P::Text(u.email)],
            b"ittttt",
        )
        .await
        .map_err(fail)?;
    let row = rows.first().ok_or(StatusCode::UNAUTHORIZED)?;
    if !password::verify(&mut context(), u.password, row[5].string()).await {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok((StatusCode::OK, Json(user_json(&b, row))))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list(b: &Backend, sql: &str, viewer: Option<i64>, page: Page) -> Answer {
    let rows =
        b.db.rows(
            sql,
            vec![
                P::Int(viewer),
                P::Int(Some(page.limit.unwrap_or(20))),
                P::Int(Some(page.offset.unwrap_or(0))),
            ],
            ARTICLE_KINDS,
        )
        .await
        .map_err(fail)?;
    let count = rows.first().map_or(0, |r| r[13].int());
    let articles: Vec<Value> = rows.iter().map(|r| article_json(r, false)).collect();
    Ok((
        StatusCode::OK,
        Json(json!({"articles": articles, "articlesCount": count})),
    ))
}

async fn articles(State(b): Shared, headers: HeaderMap, Query(page): Query<Page>) -> Answer {
    list(&b, &b.list, viewer(&b, &headers), page).await
}

async fn feed(State(b): Shared, headers: HeaderMap, Query(page): Query<Page>) -> Answer {
    let viewer = viewer(&b, &headers).ok_or(StatusCode::UNAUTHORIZED)?;
    list(&b, &b.feed, Some(viewer), page).await
}

async fn article_as(b: &Backend, slug: String, viewer: Option<i64>, status: StatusCode) -> Answer {
    let rows =
        b.db.rows(&b.by_slug, vec![P::Int(viewer), P::Text(slug)], ARTICLE_KINDS)
            .await
            .map_err(fail)?;
    let row = rows.first().ok_or(StatusCode::NOT_FOUND)?;
    Ok((status, Json(json!({"article": article_json(row, true)}))))
}

async fn article(State(b): Shared, headers: HeaderMap, Path(slug): Path<String>) -> Answer {
    article_as(&b, slug, viewer(&b, &headers), StatusCode::OK).await
}

#[derive(Deserialize)]
struct ArticleBody {
    article: ArticleForm,
}

#[derive(Deserialize)]
struct ArticleForm {
    title: String,
    description: String,
    body: String,
    #[serde(rename = "tagList", default)]
    tag_list: Vec<String>,
}

/// `How to train your dragon` → `how-to-train-your-dragon-1a2b3c4d`.
fn slug_of(title: &str) -> String {
    let mut slug = String::new();
    for c in title.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let id = RecordId::fresh().to_string();
    format!("{}-{}", slug.trim_end_matches('-'), &id[id.len() - 8..])
}

async fn create(State(b): Shared, headers: HeaderMap, Json(form): Json<ArticleBody>) -> Answer {
    let viewer = viewer(&b, &headers).ok_or(StatusCode::UNAUTHORIZED)?;
    let a = form.article;
    let slug = slug_of(&a.title);
    b.db.insert_article([slug.clone(), a.title, a.description, a.body], viewer, a.tag_list)
        .await
        .map_err(fail)?;
    article_as(&b, slug, Some(viewer), StatusCode::CREATED).await
}

async fn favorite(State(b): Shared, headers: HeaderMap, Path(slug): Path<String>) -> Answer {
    let viewer = viewer(&b, &headers).ok_or(StatusCode::UNAUTHORIZED)?;
    b.db.write(
        "INSERT INTO favorites (user_id, article_id) SELECT $1, id FROM articles WHERE slug = $2 ON CONFLICT DO NOTHING",
        vec![P::Int(Some(viewer)), P::Text(slug.clone())],
        b"",
    )
    .await
    .map_err(fail)?;
    article_as(&b, slug, Some(viewer), StatusCode::OK).await
}

async fn profile_as(b: &Backend, username: String, viewer: Option<i64>) -> Answer {
    let rows = b
        .db
        .rows(
            "SELECT u.username, u.bio, u.image, \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM follows w WHERE w.followee_id = u.id AND w.follower_id = $1) THEN 1 ELSE 0 END AS BIGINT) \
             FROM users u WHERE u.username = $2",
            vec![P::Int(viewer), P::Text(username)],
            b"ttti",
        )
        .await
        .map_err(fail)?;
    let row = rows.first().ok_or(StatusCode::NOT_FOUND)?;
    Ok((
        StatusCode::OK,
        Json(json!({"profile": {
            "username": row[0].text(),
            "bio": row[1].text(),
            "image": row[2].text(),
            "following": row[3].int() != 0,
        }})),
    ))
}

async fn profile(State(b): Shared, headers: HeaderMap, Path(username): Path<String>) -> Answer {
    profile_as(&b, username, viewer(&b, &headers)).await
}

async fn follow(State(b): Shared, headers: HeaderMap, Path(username): Path<String>) -> Answer {
    let viewer = viewer(&b, &headers).ok_or(StatusCode::UNAUTHORIZED)?;
    b.db.write(
        "INSERT INTO follows (follower_id, followee_id) SELECT $1, id FROM users WHERE username = $2 ON CONFLICT DO NOTHING",
        vec![P::Int(Some(viewer)), P::Text(username.clone())],
        b"",
    )
    .await
    .map_err(fail)?;
    profile_as(&b, username, Some(viewer)).await
}

async fn tags(State(b): Shared) -> Answer {
    let rows =
        b.db.rows("SELECT DISTINCT tag FROM article_tags ORDER BY tag", Vec::new(), b"t")
            .await
            .map_err(fail)?;
    let tags: Vec<Value> = rows.iter().map(|r| r[0].text()).collect();
    Ok((StatusCode::OK, Json(json!({"tags": tags}))))
}

/// Serves the hand-written backend on a loopback port, on a fresh database
/// (`url` a PostgreSQL URL, or anything else for a SQLite file in `dir`).
pub async fn serve_on_loopback(url: &str, dir: &std::path::Path) -> SocketAddr {
    let db = Db::open(url, dir).await;
    let order = "ORDER BY a.created_at DESC, a.id DESC LIMIT $2 OFFSET $3";
    let followed = "SELECT followee_id FROM follows WHERE follower_id = $1";
    let backend = Backend {
        list: format!(
            "{} {order}",
            article_select(&db, false, "(SELECT COUNT(*) FROM articles)")
        ),
        feed: format!(
            "{} WHERE a.author_id IN ({followed}) {order}",
            article_select(
                &db,
                false,
                &format!("(SELECT COUNT(*) FROM articles WHERE author_id IN ({followed}))")
            )
        ),
        by_slug: format!("{} WHERE a.slug = $2", article_select(&db, true, "CAST(0 AS BIGINT)")),
        jwt: Jwt::new(b"the hand-written backend's secret, 32+ bytes".to_vec()),
        db,
    };
    let router = Router::new()
        .route("/api/users", post(register))
        .route("/api/users/login", post(login))
        .route("/api/articles", get(articles).post(create))
        .route("/api/articles/feed", get(feed))
        .route("/api/articles/{slug}", get(article))
        .route("/api/articles/{slug}/favorite", post(favorite))
        .route("/api/profiles/{username}", get(profile))
        .route("/api/profiles/{username}/follow", post(follow))
        .route("/api/tags", get(tags))
        .with_state(Arc::new(backend));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}
