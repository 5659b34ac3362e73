//! Serving a concord app over HTTP.
//!
//! Every request under the base path (default `/api`) becomes
//! `Requesting.request` in a new flow: `path` is the URL path below the base
//! (or the matching route template, such as `/profiles/:username`, with its
//! parameters as fields), the JSON body's top-level fields, the query-string
//! parameters, `method`, and `token` from an `Authorization: Token …` or
//! `Bearer …` header. The flow's syncs answer with `Requesting.respond`
//! (status 200, fields as the JSON body) or `Requesting.respondWith (request,
//! code, body)`. A flow that ends without an answer is answered at once; one
//! still running after the timeout gets 504. The program's route table
//! refuses what no flow could answer before reading the body: 404 for a path
//! no sync waits for, 405 with `Allow` for another method; `HEAD` is served
//! as `GET`.
//!
//! Passthrough routes (`POST /api/{Concept}/{action or query}`) are closed
//! unless listed with a justification ([`Passthrough`]).
//!
//! This is the only crate that knows HTTP status codes.

mod explorer;
pub mod openapi;
mod passthrough;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use concord_concept::{FlowId, Record, Value};
use concord_engine::Engine;
use concord_std::Requesting;
use serde_json::json;

pub use concord_program::RouteTable;
use concord_program::{EntryNeeds, ParamTypes};
pub use passthrough::{Passthrough, PassthroughError};
pub use routes::HttpEntry;

/// How requests are served.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Path prefix of the API (`REQUESTING_BASE_URL`, default `/api`).
    pub base: String,
    /// How long a request may wait for its answer (`REQUESTING_TIMEOUT`).
    pub timeout: Duration,
    /// The origin allowed by CORS (`REQUESTING_ALLOWED_ORIGIN`); none by default.
    pub allowed_origin: Option<String>,
    /// Largest accepted body, in bytes (`REQUESTING_MAX_BODY`, 1 MiB).
    pub body_limit: usize,
    /// How long a client may take to send the body once its headers are in
    /// (`REQUESTING_BODY_TIMEOUT`, 30 s); a slower one gets 408.
    pub body_timeout: Duration,
    /// Development mode: unanswered requests explain what ran.
    pub dev: bool,
    /// Passthrough routes that are open.
    pub passthrough: Passthrough,
    /// How the answers the framework gives itself (404, 405, a malformed
    /// body, a missing or mistyped field, 5xx) are shaped.
    pub error_shape: ErrorShape,
}

/// The shape of the answers the framework gives itself; syncs shape their
/// own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"error": "message"}`, with `"fields": {"user.email": ["is missing"]}`
    /// when fields are at fault.
    #[default]
    Message,
    /// `{"errors": {"user.email": ["is missing"]}}`, RealWorld's shape; an
    /// error that is not about a field is under `path`, `method`, `body`,
    /// `request` or `server`.
    FieldLists,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            base: "/api".into(),
            timeout: Duration::from_secs(10),
            allowed_origin: None,
            body_limit: 1 << 20,
            body_timeout: Duration::from_secs(30),
            dev: false,
            passthrough: Passthrough::default(),
            error_shape: ErrorShape::default(),
        }
    }
}

struct Shared {
    engine: Engine,
    requesting: Arc<Requesting>,
    /// What requests become, from `Requesting`'s spec.
    entry: HttpEntry,
    config: HttpConfig,
    /// The action log, for the flow explorer (development mode only).
    explorer: Option<Arc<dyn concord_store::Backend>>,
    /// The route table, what each sync needs of a request, and the
    /// program version they were derived from.
    routes: std::sync::Mutex<(u64, Arc<Routing>)>,
}

/// What the edge knows of the program before a flow starts.
struct Routing {
    table: RouteTable,
    /// By index into [`concord_program::Program::all_syncs`].
    needs: Vec<Option<EntryNeeds>>,
    program: concord_program::Program,
}

impl Routing {
    fn of(engine: &Engine, entry: &HttpEntry) -> Self {
        let program = engine.program();
        let types = ParamTypes::of(&engine.specs());
        let needs = program
            .all_syncs()
            .into_iter()
            .map(|s| EntryNeeds::of(s, entry.action(), &types))
            .collect();
        Routing {
            table: entry.routes(&program),
            needs,
            program,
        }
    }
}

impl Shared {
    fn routing(&self) -> Arc<Routing> {
        let version = self.engine.program_version();
        let mut cached = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if cached.0 != version {
            *cached = (version, Arc::new(Routing::of(&self.engine, &self.entry)));
        }
        cached.1.clone()
    }
}

/// The app's router: every method and path, answered by the syncs.
pub fn router(engine: Engine, requesting: Arc<Requesting>, config: HttpConfig) -> Router {
    router_with_explorer(engine, requesting, config, None)
}

/// Like [`router`]; in development mode (`config.dev`) with the store, it
/// also serves the flow explorer under `/_concord/`. Otherwise those paths
/// do not exist.
pub fn router_with_explorer(
    engine: Engine,
    requesting: Arc<Requesting>,
    config: HttpConfig,
    store: Option<Arc<dyn concord_store::Backend>>,
) -> Router {
    let explorer = if config.dev { store } else { None };
    let entry = HttpEntry::of(&requesting);
    let routes = std::sync::Mutex::new((engine.program_version(), Arc::new(Routing::of(&engine, &entry))));
    let shared = Arc::new(Shared {
        engine,
        requesting,
        entry,
        config,
        routes,
        explorer,
    });
    let mut router = Router::new();
    if shared.config.dev {
        router = router.route("/_concord/openapi.json", axum::routing::get(openapi_json));
    }
    if shared.explorer.is_some() {
        use axum::routing::get;
        router = router
            .route("/_concord", get(explorer::page))
            .route("/_concord/", get(explorer::page))
            .route("/_concord/graph.svg", get(explorer::graph))
            .route("/_concord/api/flows", get(explorer::flows))
            .route("/_concord/api/flows/{id}", get(explorer::flow));
    }
    router.fallback(handle).with_state(shared)
}

pub use axum::Router;

/// `/_concord/openapi.json` (development mode): the API as the program
/// running now describes it.
async fn openapi_json(State(shared): State<Arc<Shared>>) -> Response {
    let document = openapi::document(
        &shared.engine.program(),
        &shared.engine.specs(),
        &shared.entry,
        &shared.config,
        "concord app",
    );
    json_response(StatusCode::OK, document)
}

/// How connections are bounded: what a slow, idle or hostile client can hold.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's headers, counted from when the
    /// connection starts waiting for them (so it also closes idle keep-alive
    /// connections) (`REQUESTING_HEADER_TIMEOUT`, 10 s).
    pub header_timeout: Duration,
    /// Connections served at once; beyond it new ones wait in the listen
    /// queue (`REQUESTING_MAX_CONNECTIONS`, 512).
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

/// Serves `router` on `listener` until the process ends, with the default
/// [`ConnectionLimits`].
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    serve_until(listener, router, ConnectionLimits::default(), std::future::pending()).await
}

/// Serves `router` until `stop` completes, then finishes the requests in
/// progress. Each connection is HTTP/1.1 with `limits`.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        // A free slot first: at the cap, connections wait in the kernel's
        // queue instead of holding a descriptor each here.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut stop => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors and the like: wait, then go on.
                Err(e) => {
                    tracing::warn!(target: "concord::http", "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is not the server's error.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn json_response(status: StatusCode, body: Value) -> Response {
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return status.into_response();
    }
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// What the framework answered on its own: re-shaped per
/// [`ErrorShape`] on the way out.
#[derive(Debug, Clone)]
struct Problem {
    message: String,
    /// Fields at fault with what is wrong with each.
    fields: Vec<(String, String)>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let mut r = json_response(status, json!({ "error": message }));
    r.extensions_mut().insert(Problem {
        message,
        fields: Vec::new(),
    });
    r
}

/// 422 naming each field at fault.
fn field_errors(fields: Vec<(String, String)>) -> Response {
    fields_refused(StatusCode::UNPROCESSABLE_ENTITY, fields)
}

/// `status`, naming each field at fault.
fn fields_refused(status: StatusCode, fields: Vec<(String, String)>) -> Response {
    let message = fields
        .iter()
        .map(|(f, m)| format!("`{f}` {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut grouped = serde_json::Map::new();
    for (f, m) in &fields {
        if let Value::Array(items) = grouped.entry(f.clone()).or_insert_with(|| Value::Array(Vec::new())) {
            items.push(Value::from(m.clone()));
        }
    }
    let mut r = json_response(status, json!({ "error": message, "fields": grouped }));
    r.extensions_mut().insert(Problem { message, fields });
    r
}

/// A framework answer in the app's chosen shape.
fn shaped(mut r: Response, shape: ErrorShape) -> Response {
    if shape == ErrorShape::Message {
        return r;
    }
    let Some(problem) = r.extensions_mut().remove::<Problem>() else {
        return r;
    };
    let status = r.status();
    let topic = match status.as_u16() {
        404 => "path",
        405 => "method",
        400 | 408 | 411 | 413 | 415 => "body",
        s if s >= 500 => "server",
        _ => "request",
    };
    let fields = match problem.fields.is_empty() {
        true => vec![(topic.to_string(), problem.message)],
        false => problem.fields,
    };
    let mut errors = serde_json::Map::new();
    for (f, m) in fields {
        if let Value::Array(items) = errors.entry(f).or_insert_with(|| Value::Array(Vec::new())) {
            items.push(Value::from(m));
        }
    }
    // Development mode's explanation of a 500 stays beside the errors.
    let (parts, body) = r.into_parts();
    let mut extra = match buffered_json(body) {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    extra.remove("error");
    extra.remove("fields");
    extra.remove("errors");
    let mut out = serde_json::Map::new();
    out.insert("errors".into(), Value::Object(errors));
    out.extend(extra);
    let mut shaped = json_response(status, Value::Object(out));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}

/// The JSON of a body built by [`json_response`] (a full buffer, so it is
/// read without waiting).
fn buffered_json(body: Body) -> Option<Value> {
    use http_body_util::BodyExt as _;
    let mut collect = std::pin::pin!(body.collect());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match collect.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(c)) => serde_json::from_slice(&c.to_bytes()).ok(),
        _ => None,
    }
}

fn with_cors(mut r: Response, config: &HttpConfig) -> Response {
    if let Some(origin) = &config.allowed_origin
        && let Ok(v) = HeaderValue::from_str(origin)
    {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type, Authorization, X-Requested-With"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    r
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let config = &shared.config;
    let response = answer(&shared, request).await;
    with_cors(shaped(response, config.error_shape), config)
}

async fn answer(shared: &Shared, request: Request) -> Response {
    let config = &shared.config;
    let (parts, body) = request.into_parts();
    let Some(sub_path) = parts
        .uri
        .path()
        .strip_prefix(config.base.trim_end_matches('/'))
        .filter(|p| p.is_empty() || p.starts_with('/'))
    else {
        return error(
            StatusCode::NOT_FOUND,
            format!("not found: the API is under {}", config.base),
        );
    };
    let sub_path = if sub_path.is_empty() { "/" } else { sub_path }.to_string();
    if parts.method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    // Known before the body is read: a request no route takes never starts
    // a flow that can only fail.
    let routing = shared.routing();
    let target = match config.passthrough.find(&sub_path) {
        Some(open) if parts.method == Method::POST => Target::Passthrough(open),
        _ => match route(&routing.table, &sub_path, &parts.method) {
            Ok(routed) => Target::Flow(routed),
            Err(refusal) => return refusal,
        },
    };
    let bytes = match tokio::time::timeout(config.body_timeout, axum::body::to_bytes(body, config.body_limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) if too_large(&e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {} bytes", config.body_limit),
            );
        }
        Ok(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the request body could not be read: {e}"),
            );
        }
        Err(_) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} ms",
                    config.body_timeout.as_millis()
                ),
            );
        }
    };
    let mut input = match parse_body(&bytes) {
        Ok(fields) => fields,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if let Some(query) = parts.uri.query() {
        for (k, v) in form_pairs(query) {
            if input.contains_key(&k) {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("`{k}` is given both in the query string and in the body"),
                );
            }
            input.insert(k, Value::String(v));
        }
    }
    if let Some(token) = credentials(&parts.headers) {
        input.insert("token".into(), Value::String(token));
    }
    if let Some(field) = field_with_nul(&input) {
        return nul_refused(&field);
    }
    let mut routed = match target {
        Target::Passthrough(open) => return passthrough::run(&shared.engine, open, input).await,
        Target::Flow(routed) => routed,
    };
    for (k, v) in std::mem::take(&mut routed.params) {
        if v.contains('\0') {
            return nul_refused(&k);
        }
        input.insert(k, Value::String(v));
    }
    let entry = &shared.entry;
    input.insert(entry.route_key.clone(), Value::String(routed.template.clone()));
    if let Some(key) = &entry.method_key {
        input.insert(key.clone(), Value::String(routed.method.clone()));
    }
    let unfit = unfit_fields(&routing, &routed, &input);
    if !unfit.is_empty() {
        return field_errors(unfit);
    }
    run_request(shared, &routing, input).await
}

/// The fields that keep every sync on the route from taking the request:
/// when no sync that starts flows there matches it, what the closest one
/// lacks; otherwise the values that a sync which matches would pass to a
/// parameter of another type. Empty when the request is fit to run.
fn unfit_fields(routing: &Routing, routed: &Routed, input: &Record) -> Vec<(String, String)> {
    use concord_engine::value::json_eq;
    let here: Vec<&EntryNeeds> = routed
        .syncs
        .iter()
        .filter_map(|&i| routing.needs.get(i)?.as_ref())
        .filter(|n| n.method.as_deref().is_none_or(|m| m == routed.method))
        .collect();
    let problems = |n: &EntryNeeds| -> Vec<(String, String)> {
        let missing = n
            .required
            .iter()
            .filter(|k| !input.contains_key(*k))
            .map(|k| (k.clone(), "is missing".to_string()));
        let unequal = n
            .literals
            .iter()
            .filter(|(k, v)| input.get(k).is_some_and(|x| !json_eq(x, v)))
            .map(|(k, v)| (k.clone(), format!("must be {v}")));
        missing.chain(unequal).collect()
    };
    let starters: Vec<Vec<(String, String)>> = here.iter().filter(|n| n.starts).map(|n| problems(n)).collect();
    if !starters.is_empty() && starters.iter().all(|p| !p.is_empty()) {
        return starters.into_iter().min_by_key(Vec::len).unwrap_or_default();
    }
    let mut wrong: Vec<(String, String)> = Vec::new();
    for n in here.iter().filter(|n| problems(n).is_empty()) {
        for u in &n.typed {
            let mut value = input.get(&u.path[0]);
            for field in &u.path[1..] {
                value = value.and_then(|v| v.get(field));
            }
            let unfit = match value {
                Some(Value::Null) => !u.nullable,
                Some(v) => !concord_program::contract::has_type(v, u.ty),
                None => false,
            };
            if unfit {
                let field = u.field();
                if !wrong.iter().any(|(f, _)| *f == field) {
                    wrong.push((field, format!("must be {}", a_type(u.ty))));
                }
            }
        }
    }
    wrong
}

fn a_type(ty: concord_concept::ParamType) -> &'static str {
    use concord_concept::ParamType as T;
    match ty {
        T::String => "a string",
        T::Integer => "an integer",
        T::Number => "a number",
        T::Bool => "true or false",
        T::List => "a list",
        T::Object => "an object",
        T::Any => "a value",
    }
}

/// Whether reading a body failed because it exceeded the limit (rather than
/// because it was malformed or cut off).
fn too_large(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Where a request goes.
enum Target<'a> {
    /// An open passthrough route.
    Passthrough(&'a passthrough::Route),
    /// A flow of the entry action.
    Flow(Routed),
}

/// A request the route table takes: the route's template, its parameters
/// (decoded) and the method the flow sees (`GET` for a `HEAD`).
struct Routed {
    template: String,
    /// The syncs waiting on the route (indexes into `all_syncs`).
    syncs: Vec<usize>,
    params: Vec<(String, String)>,
    method: String,
}

/// Matches a request against the routes: 404 when no route's path matches,
/// 405 with `Allow` when one does but not with this method. `HEAD` is
/// served as `GET` where a route takes `GET` (the server sends no body).
#[allow(clippy::result_large_err)]
fn route(routes: &RouteTable, path: &str, method: &Method) -> Result<Routed, Response> {
    let Some((route, params)) = routes.resolve(path) else {
        return Err(error(StatusCode::NOT_FOUND, format!("no route matches {path}")));
    };
    let takes = |m: &str| route.any_method || route.methods.iter().any(|x| x == m);
    let method = match method.as_str() {
        "HEAD" if !takes("HEAD") && takes("GET") => "GET",
        m => m,
    };
    if !takes(method) {
        let mut allow: Vec<&str> = route.methods.iter().map(String::as_str).collect();
        if takes("GET") && !takes("HEAD") {
            allow.push("HEAD");
        }
        allow.push("OPTIONS");
        let mut refusal = error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{path} does not take {method}; it takes {}", allow.join(", ")),
        );
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            refusal.headers_mut().insert(header::ALLOW, v);
        }
        return Err(refusal);
    }
    Ok(Routed {
        template: route.template.as_str().to_string(),
        syncs: route.syncs.clone(),
        params: params.into_iter().map(|(k, v)| (k.to_string(), decode(v))).collect(),
        method: method.to_string(),
    })
}

fn parse_body(bytes: &[u8]) -> Result<Record, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Record::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "request body must be a JSON object, not {}",
            match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        )),
        Err(e) => Err(format!("request body is not valid JSON: {e}")),
    }
}

/// The first field (dotted path) whose key or text holds a NUL character:
/// no store keeps one in text (PostgreSQL refuses it outright), so such a
/// request is refused before it can fail halfway through a flow.
fn field_with_nul(input: &Record) -> Option<String> {
    fn walk(v: &Value, path: &str) -> Option<String> {
        match v {
            Value::String(s) if s.contains('\0') => Some(path.to_string()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            Value::Object(m) => m.iter().find_map(|(k, v)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains('\0') { Some(here) } else { walk(v, &here) }
            }),
            _ => None,
        }
    }
    input
        .iter()
        .find_map(|(k, v)| if k.contains('\0') { Some(k.clone()) } else { walk(v, k) })
}

fn nul_refused(field: &str) -> Response {
    fields_refused(
        StatusCode::BAD_REQUEST,
        vec![(
            field.replace('\0', "\\0"),
            "contains a NUL character (U+0000), which is not accepted".into(),
        )],
    )
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub(crate) fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// The credential of `Authorization: Token x` or `Bearer x`.
fn credentials(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

async fn run_request(shared: &Shared, routing: &Routing, input: Record) -> Response {
    let flow = FlowId::fresh();
    let id = flow.to_string();
    let mut answer = shared.requesting.expect(&id);
    let engine = shared.engine.clone();
    let requesting = shared.requesting.clone();
    let forget_id = id.clone();
    let (concept, action) = (shared.entry.concept.clone(), shared.entry.action.clone());
    // The flow runs in this task (no spawn, no hand-over between threads for
    // the common request that is answered as its flow ends); if it is still
    // going when the answer comes, or when the timeout strikes, the rest of
    // it runs on in a task of its own. Its request is forgotten when it ends
    // (the answer travels on its own channel).
    let mut flow_run = Box::pin(async move {
        let report = engine.run_in(flow, &concept, &action, input).await;
        requesting.forget(&forget_id);
        report
    });
    // Most flows finish without waiting on anything: they need no timer.
    let finished_at_once = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match flow_run.as_mut().poll(cx) {
            std::task::Poll::Ready(report) => Some(report),
            std::task::Poll::Pending => None,
        })
    })
    .await;
    let response = match finished_at_once {
        Some(finished) => match answer.try_recv() {
            Ok(r) => Some(r),
            Err(_) => return unanswered(shared, routing, &id, finished.ok()).await,
        },
        None => {
            let deadline = tokio::time::sleep(shared.config.timeout);
            tokio::pin!(deadline);
            tokio::select! {
                got = &mut answer => match got {
                    Ok(r) => {
                        finish_in_background(flow_run);
                        Some(r)
                    }
                    // The request was forgotten unanswered (its flow has ended).
                    Err(_) => None,
                },
                finished = &mut flow_run => {
                    // The answer may have been sent just before the flow ended.
                    match answer.try_recv() {
                        Ok(r) => Some(r),
                        Err(_) => return unanswered(shared, routing, &id, finished.ok()).await,
                    }
                }
                () = &mut deadline => {
                    finish_in_background(flow_run);
                    shared.requesting.forget(&id);
                    tracing::warn!(target: "concord::http", flow = %id, "request timed out");
                    return error(
                        StatusCode::GATEWAY_TIMEOUT,
                        format!("no answer within {} ms", shared.config.timeout.as_millis()),
                    );
                }
            }
        }
    };
    let Some(r) = response else {
        return unanswered(shared, routing, &id, None).await;
    };
    let status = match r.code {
        None => StatusCode::OK,
        Some(code) => match u16::try_from(code).ok().and_then(|c| StatusCode::from_u16(c).ok()) {
            Some(s) => s,
            None => {
                tracing::error!(target: "concord::http", flow = %id, "respondWith used an invalid status code {code}");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the app chose an invalid status code",
                );
            }
        },
    };
    json_response(status, r.body)
}

/// Lets a flow that outlives its answer run to its end: polled once here
/// (most are done by now), otherwise moved to a task of its own.
fn finish_in_background<F>(mut flow_run: std::pin::Pin<Box<F>>)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send,
{
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if flow_run.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(flow_run);
    }
}

async fn unanswered(
    shared: &Shared,
    routing: &Routing,
    id: &str,
    report: Option<concord_engine::FlowReport>,
) -> Response {
    // Refused for overload before anything was written: come back later.
    if let Some(concord_engine::FlowReport {
        status: concord_engine::FlowStatus::Overloaded { retry_after },
        ..
    }) = &report
    {
        let seconds = retry_after.as_millis().div_ceil(1000).max(1);
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the server is busy; try again in {seconds} s"),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds as u64));
        return r;
    }
    // The request's own mistake that no `else` answered: name the field.
    if let Some(report) = &report
        && !report.rejections.is_empty()
    {
        let syncs = routing.program.all_syncs();
        let mut fields: Vec<(String, String)> = Vec::new();
        for r in &report.rejections {
            let field = match syncs.iter().find(|s| s.name == r.sync) {
                Some(s) => concord_program::contract::request_field(s, &r.what),
                None => r.what.clone(),
            };
            let message = format!("must be {}", r.expected);
            if !fields.iter().any(|(f, _)| *f == field) {
                fields.push((field, message));
            }
        }
        tracing::info!(target: "concord::http", flow = %id, "request refused: {}", fields.iter().map(|(f, m)| format!("{f} {m}")).collect::<Vec<_>>().join("; "));
        return field_errors(fields);
    }
    let misses = match (&report, shared.config.dev) {
        (Some(r), true) => shared.engine.explain(r).await.iter().map(ToString::to_string).collect(),
        _ => Vec::<String>::new(),
    };
    if misses.is_empty() {
        tracing::warn!(target: "concord::http", flow = %id, "no synchronization responded to the request");
    } else {
        tracing::warn!(
            target: "concord::http",
            flow = %id,
            "no synchronization responded to the request; close: {}",
            misses.join("; ")
        );
    }
    let mut body = json!({
        "error": "no synchronization responded to this request",
        "flow": id,
    });
    if shared.config.dev
        && let Some(report) = report
    {
        body["actions"] = Value::from(report.action_names());
        body["nearMisses"] = Value::from(misses);
        body["errors"] = Value::from(
            report
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.sync, e.message))
                .collect::<Vec<_>>(),
        );
        if let concord_engine::FlowStatus::Runaway { cycle, .. } = report.status {
            body["runaway"] = Value::from(cycle);
        }
    }
    json_response(StatusCode::INTERNAL_SERVER_ERROR, body)
}
