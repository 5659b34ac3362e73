//! The RealWorld ("Conduit") backend on concord.
//!
//! Ten concepts — User, Password, Profile, Following, Article, Tag, Comment,
//! Favorite, plus JWT and Requesting from `concord-std` — none of which
//! knows another. Everything that crosses them (authentication, ownership,
//! cascades, the JSON shapes of the API) is in `syncs/*.sync`.

pub mod concepts;

use std::path::PathBuf;

use concord::App;
use concord_std::Jwt;

pub use concepts::*;

/// Where this example's syncs are.
pub fn syncs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("syncs")
}

/// The app, with its concepts registered. Tokens are signed with
/// `JWT_SECRET` (at least 32 bytes; a shorter one is refused) or, without it,
/// a random per-process key.
pub fn app() -> Result<App, concord_std::JwtSecretError> {
    Ok(App::new()
        .concept(User)
        .concept(Password)
        .concept(Profile)
        .concept(Following)
        .concept(Article)
        .concept(Tag)
        .concept(Comment)
        .concept(Favorite)
        .concept(Jwt::from_env()?)
        .syncs(syncs_dir())
        .error_shape(concord::http::ErrorShape::FieldLists))
}

/// Serves the app with state in `database` on a free loopback port, on the
/// current runtime, and returns where (for tests and benchmarks).
///
/// # Panics
/// If the app does not load or no port is free.
pub async fn serve_on_loopback(database: &str) -> std::net::SocketAddr {
    let router = app()
        .expect("JWT_SECRET, if set, is long enough")
        .database(database)
        .router(concord::http::HttpConfig::default())
        .await
        .expect("the conduit app loads");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    tokio::spawn(concord::http::serve(listener, router));
    addr
}
