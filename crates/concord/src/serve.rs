//! The `serve` and `routes` commands, and settings from the environment.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use concord_http::HttpConfig;
use concord_program::{Matcher, OutcomeMatch};

use crate::App;

/// Settings given as command-line flags; they win over the environment.
static FLAGS: OnceLock<HashMap<String, String>> = OnceLock::new();

/// The flags `serve` understands, and the settings they set.
const FLAG_SETTINGS: [(&str, &str); 7] = [
    ("--port", "PORT"),
    ("--host", "HOST"),
    ("--database-url", "DATABASE_URL"),
    ("--base-url", "REQUESTING_BASE_URL"),
    ("--timeout", "REQUESTING_TIMEOUT"),
    ("--allowed-origin", "REQUESTING_ALLOWED_ORIGIN"),
    ("--dev", "CONCORD_DEV"),
];

/// Reads `serve`'s flags (`--port 9000`, `--port=9000`, `--dev`).
pub(crate) fn parse_flags(args: &[String]) -> Result<(), String> {
    let mut flags = HashMap::new();
    let mut i = 0;
    while i < args.len() {
        let (name, inline) = match args[i].split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (args[i].clone(), None),
        };
        let Some(&(_, key)) = FLAG_SETTINGS.iter().find(|(f, _)| *f == name) else {
            let known: Vec<&str> = FLAG_SETTINGS.iter().map(|(f, _)| *f).collect();
            return Err(format!("unknown flag `{name}`; serve takes {}", known.join(", ")));
        };
        let value = if name == "--dev" {
            inline.unwrap_or_else(|| "1".into())
        } else if let Some(v) = inline {
            v
        } else {
            i += 1;
            args.get(i).cloned().ok_or_else(|| format!("`{name}` needs a value"))?
        };
        flags.insert(key.to_string(), value);
        i += 1;
    }
    let _ = FLAGS.set(flags);
    Ok(())
}

/// A setting from a command-line flag, else the environment, else `.env` in
/// the working directory (read once; the process environment is never
/// modified).
pub(crate) fn setting(key: &str) -> Option<String> {
    static DOTENV: OnceLock<HashMap<String, String>> = OnceLock::new();
    if let Some(v) = FLAGS.get().and_then(|f| f.get(key)) {
        return Some(v.clone());
    }
    if let Ok(v) = std::env::var(key)
        && !v.is_empty()
    {
        return Some(v);
    }
    DOTENV
        .get_or_init(|| {
            std::fs::read_to_string(".env")
                .map(|t| parse_dotenv(&t))
                .unwrap_or_default()
        })
        .get(key)
        .cloned()
}

fn parse_dotenv(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// HTTP settings from the environment.
pub fn http_config() -> Result<HttpConfig, String> {
    let mut c = HttpConfig::default();
    if let Some(base) = setting("REQUESTING_BASE_URL") {
        c.base = if base.starts_with('/') {
            base
        } else {
            format!("/{base}")
        };
    }
    if let Some(t) = setting("REQUESTING_TIMEOUT") {
        let ms: u64 = t
            .parse()
            .map_err(|_| format!("REQUESTING_TIMEOUT must be milliseconds, not `{t}`"))?;
        c.timeout = Duration::from_millis(ms);
    }
    c.allowed_origin = setting("REQUESTING_ALLOWED_ORIGIN");
    c.dev = setting("CONCORD_DEV").is_some_and(|v| v != "0" && v != "false");
    Ok(c)
}

pub(crate) async fn serve(app: App) -> Result<(), String> {
    let mut config = http_config()?;
    config.passthrough = app.passthrough_routes()?;
    let host = setting("HOST").unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = match setting("PORT") {
        Some(p) => p
            .parse()
            .map_err(|_| format!("PORT must be a port number, not `{p}`"))?,
        None => 8000,
    };
    let requesting = app.requesting();
    let reachable = reachable_actions(&app)?;
    let specs = app.specs();
    let (syncs_dir, watch_specs) = app.watcher();
    let (engine, store) = app.load_with_store().await.map_err(|e| e.to_string())?;
    if config.dev {
        crate::watch_syncs(engine.clone(), syncs_dir.clone(), watch_specs, Duration::from_secs(1));
        tracing::info!(target: "concord::reload", "development mode: watching {} for changes", syncs_dir.display());
    }
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let router = concord_http::router_with_explorer(engine.clone(), requesting, config.clone(), Some(store));
    let routes = concord_http::RouteTable::from_engine_paths(&reachable.paths);
    let mut listing = String::new();
    for path in routes.all() {
        listing.push_str(&format!("\n  {}{}", config.base, path));
    }
    for r in config.passthrough.routes() {
        listing.push_str(&format!(
            "\n  POST {}/{}/{}  (passthrough: {})",
            config.base, r.concept, r.name, r.justification
        ));
    }
    let unreached: Vec<String> = specs
        .iter()
        .filter(|s| s.name != concord_check::REQUESTING)
        .flat_map(|s| s.actions.iter().map(move |a| format!("{}.{}", s.name, a.name)))
        .filter(|a| {
            !reachable.actions.contains(a)
                && !config
                    .passthrough
                    .routes()
                    .iter()
                    .any(|r| format!("{}.{}", r.concept, r.name) == *a)
        })
        .collect();
    tracing::info!(target: "concord::http", "served routes:{listing}");
    if !unreached.is_empty() {
        tracing::info!(target: "concord::http", "actions no route reaches: {}", unreached.join(", "));
    }
    println!("listening on http://{addr}{}", config.base);
    if config.dev {
        println!("flow explorer: http://{addr}/_concord/");
    }
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!(target: "concord::http", "shutting down");
    };
    axum_serve(listener, router, stop).await?;
    // Records of actions that changed no state are written in batches.
    engine.flush_log().await;
    Ok(())
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    router: concord_http::Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    concord_http::serve_until(listener, router, stop)
        .await
        .map_err(|e| e.to_string())
}

struct Reachable {
    paths: Vec<String>,
    actions: Vec<String>,
}

/// Request paths in the syncs, and actions some sync invokes.
fn reachable_actions(app: &App) -> Result<Reachable, String> {
    let program = app.program().map_err(|e| e.to_string())?;
    let mut paths = Vec::new();
    let mut actions = Vec::new();
    for s in &program.syncs {
        for p in s
            .when
            .iter()
            .filter(|p| p.concept == concord_check::REQUESTING && p.action == "request")
        {
            for m in p.inputs.iter().filter(|m| m.key == "path") {
                if let Matcher::Literal(concord_concept::Value::String(path)) = &m.matcher
                    && !paths.contains(path)
                {
                    paths.push(path.clone());
                }
            }
        }
        for i in &s.then {
            let name = format!("{}.{}", i.concept, i.action);
            if !actions.contains(&name) {
                actions.push(name);
            }
        }
    }
    Ok(Reachable { paths, actions })
}

/// `routes`: each request path, the syncs that handle it, and what each
/// responding sync answers.
pub(crate) fn routes(app: &App) -> Result<(), String> {
    let program = app.program().map_err(|e| e.to_string())?;
    let reachable = reachable_actions(app)?;
    let mut paths = reachable.paths.clone();
    paths.sort();
    let base = http_config()?.base;
    for path in paths {
        println!("{base}{path}");
        for s in &program.syncs {
            let on_path = s.when.iter().any(|p| {
                p.concept == concord_check::REQUESTING
                    && p.action == "request"
                    && p.inputs
                        .iter()
                        .any(|m| m.key == "path" && matches!(&m.matcher, Matcher::Literal(v) if v == path.as_str()))
            });
            if !on_path {
                continue;
            }
            let waits: Vec<String> = s
                .when
                .iter()
                .filter(|p| !(p.concept == concord_check::REQUESTING && p.action == "request"))
                .map(|p| {
                    let outcome = match &p.outcome {
                        OutcomeMatch::Success(_) => "succeeds",
                        OutcomeMatch::Error(_) => "fails",
                        OutcomeMatch::Any => "ends",
                    };
                    format!("{}.{} {outcome}", p.concept, p.action)
                })
                .collect();
            let responds = s.then.iter().any(|i| {
                i.concept == concord_check::REQUESTING && concord_check::RESPONDERS.contains(&i.action.as_str())
            });
            let does: Vec<String> = s.then.iter().map(|i| format!("{}.{}", i.concept, i.action)).collect();
            let when = if waits.is_empty() {
                "on the request".to_string()
            } else {
                format!("when {}", waits.join(" and "))
            };
            let verb = if responds { "responds" } else { "invokes" };
            println!("  {:<36} {verb} {when}: {}", s.name, does.join(", "));
        }
    }
    Ok(())
}

/// `trace [FLOW]`: a persisted flow as a tree, or the recent flows.
pub(crate) async fn trace(app: &App, flow: Option<&str>) -> Result<(), String> {
    let store = concord_store::open(&app.database_url())
        .await
        .map_err(|e| e.to_string())?;
    match flow {
        Some(flow) => {
            let entries = store.flow_log(flow.to_string()).await.map_err(|e| e.to_string())?;
            if entries.is_empty() {
                return Err(format!("no flow `{flow}` in the log (it may have been pruned)"));
            }
            print!("{}", render_trace(&entries));
        }
        None => {
            let now = concord_store::now_micros();
            let flows = store.flows(0, now + 1, 20).await.map_err(|e| e.to_string())?;
            for f in flows {
                println!(
                    "{}  {:>3} action(s)  {:>8.1} ms",
                    f.flow,
                    f.actions,
                    (f.completed_at - f.started_at) as f64 / 1000.0
                );
            }
        }
    }
    Ok(())
}

/// `why FLOW [SYNC]`: for a logged flow, the syncs that came close to firing
/// and why they did not (only SYNC's line if given).
pub(crate) async fn why(app: App, flow: &str, sync: Option<&str>) -> Result<(), String> {
    let url = app.database_url();
    let engine = app.load().await.map_err(|e| e.to_string())?;
    let store = concord_store::open(&url).await.map_err(|e| e.to_string())?;
    let entries = store.flow_log(flow.to_string()).await.map_err(|e| e.to_string())?;
    if entries.is_empty() {
        return Err(format!("no flow `{flow}` in the log (it may have been pruned)"));
    }
    let report = concord_engine::FlowReport::from_log(&entries);
    let misses = engine.explain(&report).await;
    let fired: Vec<&str> = report.records.iter().filter_map(|r| r.sync.as_deref()).collect();
    match sync {
        Some(name) if fired.contains(&name) => println!("{name} fired in this flow"),
        Some(name) => match misses.iter().find(|m| m.split(':').next() == Some(name)) {
            Some(m) => println!("{m}"),
            None => println!("{name}: none of its patterns is close to a record of this flow"),
        },
        None if misses.is_empty() => println!("no sync came close to firing without firing"),
        None => misses.iter().for_each(|m| println!("{m}")),
    }
    Ok(())
}

/// A flow's records as a tree: each record under the most recent record its
/// sync matched, with the sync's name before it.
pub fn render_trace(entries: &[concord_concept::state::LogEntry]) -> String {
    use std::fmt::Write as _;
    let index: HashMap<&str, usize> = entries.iter().enumerate().map(|(i, e)| (e.id.as_str(), i)).collect();
    let mut depth = vec![0usize; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let parent = e.matched.iter().filter_map(|m| index.get(m.as_str())).max();
        depth[i] = parent.map_or(0, |&p| depth[p] + 1);
    }
    let json = |r: &concord_concept::Record| serde_json::Value::Object(r.clone()).to_string();
    let mut out = String::new();
    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
        let _ = writeln!(
            out,
            "flow {}: {} action(s), {:.1} ms",
            first.flow,
            entries.len(),
            (last.completed_at - first.started_at) as f64 / 1000.0
        );
    }
    for (e, d) in entries.iter().zip(&depth) {
        let sync = e.sync.as_deref().map(|s| format!("[{s}] ")).unwrap_or_default();
        let mark = if e.error { "  (error)" } else { "" };
        let _ = writeln!(
            out,
            "{}{sync}{}.{} {} => {}{mark}",
            "  ".repeat(*d),
            e.concept,
            e.action,
            json(&e.input),
            json(&e.output)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let args: Vec<String> = ["--port", "9000", "--dev", "--base-url=/v1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        parse_flags(&args).unwrap();
        assert_eq!(setting("PORT").as_deref(), Some("9000"));
        assert_eq!(setting("CONCORD_DEV").as_deref(), Some("1"));
        assert_eq!(setting("REQUESTING_BASE_URL").as_deref(), Some("/v1"));
        assert!(
            parse_flags(&["--nope".to_string()])
                .unwrap_err()
                .contains("unknown flag `--nope`")
        );
        assert!(
            parse_flags(&["--port".to_string()])
                .unwrap_err()
                .contains("needs a value")
        );
    }

    #[test]
    fn dotenv_lines() {
        let env = parse_dotenv("# c\nPORT=9000\nexport DATABASE_URL=\"postgres://x\"\nA='b c'\n\nbad line\n");
        assert_eq!(env["PORT"], "9000");
        assert_eq!(env["DATABASE_URL"], "postgres://x");
        assert_eq!(env["A"], "b c");
        assert_eq!(env.len(), 3);
    }
}
